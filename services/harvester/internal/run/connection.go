package run

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
)

// Probe tests step by step whether a profile reaches its system with a credential
// (external.Probe under the harvester's outbound policy and bounds).
type Probe func(ctx context.Context, p *profilesv1.IntegrationProfile, secret string, today connector.Day) []external.Check

// TestConnection tests a saved profile (name) with its stored credential, as a run
// would read them, or an unsaved one (draft) with the api_key it carries, which is
// used for this call only. A draft is normalized and validated as the profiles service
// would store it; a saved profile that does not exist is a *ProfileError.
func (r *Runner) TestConnection(ctx context.Context, name string, draft *profilesv1.IntegrationProfile) ([]external.Check, error) {
	var p *profilesv1.IntegrationProfile
	secret, why := "", ""
	switch {
	case name != "" && draft != nil:
		return nil, apierr.Invalid("integration_profile", "give either name (a saved profile) or integration_profile (an unsaved one), not both")
	case name != "":
		if _, err := resource.ParseName("name", name, ProfilesCollection); err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, r.d.CallTimeout)
		defer cancel()
		var err error
		if p, err = r.d.Profiles.GetIntegrationProfile(cctx, &profilesv1.GetIntegrationProfileRequest{Name: name}); err != nil {
			return nil, &ProfileError{Profile: name, Err: err}
		}
		creds, err := r.d.Credentials.GetProfileCredentials(cctx, &profilesv1.GetProfileCredentialsRequest{Name: name})
		switch {
		case status.Code(err) == codes.FailedPrecondition:
			why = status.Convert(err).Message()
		case err != nil:
			return nil, &ProfileError{Profile: name, Err: err}
		default:
			secret, why = sealedKey(p, creds)
		}
	case draft != nil:
		p = proto.CloneOf(draft)
		secret, p.ApiKey, p.ReceiptPassword = p.GetApiKey(), "", ""
		s, ok := external.Of(p)
		if !ok {
			return nil, apierr.Invalid("integration_profile.system", "must name an external system (LIBRIS or NETPUNKT)")
		}
		if s.Normalize != nil {
			s.Normalize(p)
		}
		var v apierr.Violations
		s.Validate(&v, "integration_profile."+string(s.Block)+".", p)
		if err := v.Err(); err != nil {
			return nil, err
		}
	default:
		return nil, apierr.Invalid("name", "give name (a saved profile) or integration_profile (an unsaved one)")
	}
	today := connector.DayOf(r.d.Now().In(zoneOf(p)))
	checks := r.d.Probe(ctx, p, secret, today)
	for i, c := range checks {
		if c.Step == external.StepCredential && c.Code == external.CheckCredentialMissing && why != "" {
			checks[i].Message = strings.TrimSuffix(why, ".") + "; enter the credential (api_key) on the profile"
		}
	}
	return checks, nil
}
