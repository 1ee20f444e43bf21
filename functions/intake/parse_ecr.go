package intake

import (
	"net/http"
	"regexp"
	"time"
)

var (
	awsAccount = regexp.MustCompile(`^[0-9]{12}$`)
	awsRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// parseECR reads an EventBridge "ECR Image Action" event (through an API
// destination); the registry is derived from the account and region.
func parseECR(body []byte, _ http.Header) (report, error) {
	var p struct {
		Source     string     `json:"source"`
		DetailType string     `json:"detail-type"`
		Account    string     `json:"account"`
		Region     string     `json:"region"`
		Time       *time.Time `json:"time"`
		Detail     *struct {
			Result         string `json:"result"`
			RepositoryName string `json:"repository-name"`
			ImageDigest    string `json:"image-digest"`
			ActionType     string `json:"action-type"`
			ImageTag       string `json:"image-tag"`
		} `json:"detail"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return report{}, err
	}
	var rep report
	if p.Source != "aws.ecr" || p.DetailType != "ECR Image Action" {
		if p.Source == "" && p.DetailType == "" {
			return report{}, malformed("source", "required: an EventBridge event from aws.ecr")
		}
		rep.ignore("EventBridge %s %q is not an ECR Image Action", p.Source, p.DetailType)
		return rep, nil
	}
	d := p.Detail
	if d == nil {
		return report{}, malformed("detail", "required")
	}
	if d.ActionType != "PUSH" || d.Result != "SUCCESS" {
		rep.ignore("ECR %s with result %s of %s", d.ActionType, d.Result, d.RepositoryName)
		return rep, nil
	}
	if why := skipTag(d.ImageTag); why != "" {
		rep.ignore("%s", why)
		return rep, nil
	}
	if !awsAccount.MatchString(p.Account) {
		return report{}, malformed("account", "%q is not a 12-digit AWS account id", p.Account)
	}
	if !awsRegion.MatchString(p.Region) {
		return report{}, malformed("region", "%q is not an AWS region", p.Region)
	}
	if d.ImageDigest == "" {
		return report{}, malformed("detail.image-digest", "required for a push")
	}
	registry := p.Account + ".dkr.ecr." + p.Region + ".amazonaws.com"
	rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: d.RepositoryName, Tag: d.ImageTag, Digest: d.ImageDigest, PushedAt: p.Time, Field: "detail"})
	return rep, nil
}
