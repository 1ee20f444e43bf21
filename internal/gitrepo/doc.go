// Package gitrepo is the adapter to the GitOps config repository (go-git v5).
//
// What comes in: an edit — a pure function from the files at the branch head
// to the files to change and a commit message. What goes out: the commit that
// applies it, pushed to the branch, or a classified error.
//
// The first Update clones the branch shallowly (depth 1, single branch) into
// memory; later ones fetch incrementally and reset to the remote head. Every
// network operation has its own timeout. Updates of one Repo are serialised.
// A push rejected because someone else pushed first is retried: fetch the new
// head, run the edit again on it (edits are pure, so re-applying is safe),
// commit, push — with jittered exponential backoff, a bounded number of times,
// then ErrConflict. It never force-pushes.
//
// Errors are classified once, here: ErrConflict (non-fast-forward; go-git
// reports it only as text), ErrAuth, ErrNotFound, ErrNoChange (the edit
// changed nothing, so there is no commit) and ErrUnavailable. It never logs.
package gitrepo
