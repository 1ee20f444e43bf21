package gitrepo

import (
	"testing"
)

func TestCredentialsAuth(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		creds   Credentials
		want    string // the auth method's name; "" for none
		wantErr bool
	}{
		{
			name: "https without a password sends nothing",
			url:  "https://git.example.com/team/config.git",
			want: "",
		},
		{
			name:  "https with a token sends basic auth",
			url:   "https://git.example.com/team/config.git",
			creds: Credentials{Username: "git", Password: []byte("token")},
			want:  "http-basic-auth",
		},
		{
			name:    "ssh needs a private key",
			url:     "ssh://git@git.example.com/team/config.git",
			creds:   Credentials{KnownHostsFile: "/nonexistent"},
			wantErr: true,
		},
		{
			name:    "not a URL",
			url:     "https://git.example.com/%zz",
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := tc.creds.Auth(tc.url)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Auth(%q) error = %v, want error %v", tc.url, err, tc.wantErr)
			}
			got := ""
			if auth != nil {
				got = auth.Name()
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("Auth(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}
