package auth

import (
	"fmt"
	"sort"
	"strings"
)

// Policy maps a full gRPC method name (`/interloan.profiles.v1.ProfileService/
// CreateIntegrationProfile`) to the roles that may call it. A caller holding any of
// them may; a method missing from the policy is denied to everyone. The pseudo-roles
// Public and Authenticated open a method to anyone, or to any valid token.
type Policy map[string][]Role

// Validate checks that every key looks like a full method name and every entry names
// at least one known role or pseudo-role.
func (p Policy) Validate() error {
	var problems []string
	for _, method := range p.Methods() {
		if !validMethodName(method) {
			problems = append(problems, fmt.Sprintf("%q is not a full method name (/package.Service/Method)", method))
		}
		roles := p[method]
		if len(roles) == 0 {
			problems = append(problems, method+": no roles")
		}
		for _, r := range roles {
			if policyBit(r) == 0 {
				problems = append(problems, fmt.Sprintf("%s: unknown role %q", method, r))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("auth: invalid policy: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Methods lists the policy's method names, sorted.
func (p Policy) Methods() []string {
	ms := make([]string, 0, len(p))
	for m := range p {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	return ms
}

// Allows reports whether principal (nil: an anonymous caller) may call method.
func (p Policy) Allows(method string, principal *Principal) bool {
	roles, ok := p[method]
	if !ok {
		return false
	}
	return policyMask(roles).allows(principal)
}

// allows is the one authorisation decision, shared by Allows and the interceptors.
func (m mask) allows(p *Principal) bool {
	switch {
	case m&bitPublic != 0:
		return true
	case p == nil:
		return false
	case m&bitAuthenticated != 0:
		return true
	}
	return m&maskOf(p.Roles) != 0
}

// compile turns a policy into role masks, copying it so later changes to the map
// cannot race with calls being served.
func compile(p Policy) map[string]mask {
	out := make(map[string]mask, len(p))
	for method, roles := range p {
		out[method] = policyMask(roles)
	}
	return out
}

// policyMask is the mask of a policy entry's roles and pseudo-roles.
func policyMask(roles []Role) mask {
	var m mask
	for _, r := range roles {
		m |= policyBit(r)
	}
	return m
}

func validMethodName(s string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(s, "/"), "/")
	return strings.HasPrefix(s, "/") && ok && svc != "" && method != "" &&
		!strings.Contains(method, "/") && strings.Contains(svc, ".")
}

// Service name prefixes of the suite's RPCs.
const (
	profileSvc     = "/interloan.profiles.v1.ProfileService/"
	credentialsSvc = "/interloan.profiles.v1.ProfileCredentialsService/"
	mappingSvc     = "/interloan.mapping.v1.MappingService/"
	harvesterSvc   = "/interloan.harvester.v1.HarvesterService/"
	requestSvc     = "/interloan.requests.v1.RequestService/"
	ingestSvc      = "/interloan.requests.v1.IngestService/"
	backupSvc      = "/interloan.admin.v1.BackupService/"
	identitySvc    = "/interloan.admin.v1.IdentityService/"
	healthSvc      = "/grpc.health.v1.Health/"
	reflectionSvc  = "/grpc.reflection.v1.ServerReflection/"
	reflectionV1a  = "/grpc.reflection.v1alpha.ServerReflection/"
)

// Who may call what, by kind of method (README.md's Security section lists the roles).
var (
	// configure: creating, changing and deleting configuration (General System
	// Administrator only).
	configure = []Role{RoleAdmin}
	// act: running imports and changing requests.
	act = []Role{RoleAdmin, RoleOperator}
	// read: reading anything that holds no secret.
	read = []Role{RoleAdmin, RoleOperator, RoleViewer}
	// readHarvest: reads the harvester needs for an import, besides people.
	readHarvest = []Role{RoleAdmin, RoleOperator, RoleViewer, RoleHarvester}
	// auditTrail: reading who changed the configuration. Admin only: the trail names every
	// administrator and what they touched, which operators and viewers have no need for.
	auditTrail = []Role{RoleAdmin}
	// backup: a snapshot holds everything a service stores (sealed API keys, patron
	// data), so only the administrator may take one.
	backup = []Role{RoleAdmin}
	// harvesterOnly: the decrypted credentials and the ledger's way in; not even admin,
	// so a stolen admin token cannot read external API keys.
	harvesterOnly = []Role{RoleHarvester}
	// anyone: health checks, for probes and load balancers.
	anyone = []Role{Public}
	// anyToken: reflection reveals the API's shape, not data; grpcurl sends its token
	// with -H "authorization: Bearer <token>".
	anyToken = []Role{Authenticated}
)

// DefaultPolicy is the suite's authorisation table: one entry for every RPC of every
// service, tested against the generated service descriptors. It returns a fresh copy
// each call, so no caller can change another's.
func DefaultPolicy() Policy {
	p := make(Policy)
	for _, r := range defaultRules() {
		for _, name := range r.names {
			p[r.prefix+name] = append([]Role(nil), r.roles...)
		}
	}
	return p
}

type rule struct {
	prefix string
	roles  []Role
	names  []string
}

// defaultRules is DefaultPolicy grouped by service and kind of method; a test checks
// that no method is listed twice.
func defaultRules() []rule {
	return []rule{
		{profileSvc, configure, []string{"CreateIntegrationProfile", "UpdateIntegrationProfile", "DeleteIntegrationProfile"}},
		{profileSvc, readHarvest, []string{"GetIntegrationProfile", "ListIntegrationProfiles"}},
		{profileSvc, auditTrail, []string{"ListAuditEvents"}},
		{credentialsSvc, harvesterOnly, []string{"GetProfileCredentials"}},

		{mappingSvc, configure, []string{
			"CreateLibrary", "UpdateLibrary", "DeleteLibrary",
			"CreateLibraryMapping", "UpdateLibraryMapping", "DeleteLibraryMapping",
			"CreatePartner", "UpdatePartner", "DeletePartner",
		}},
		{mappingSvc, readHarvest, []string{"GetLibrary", "ResolveLibraryCodes", "ResolvePartnerCodes"}},
		{mappingSvc, read, []string{"ListLibraries", "GetLibraryMapping", "ListLibraryMappings", "GetPartner", "ListPartners"}},
		{mappingSvc, auditTrail, []string{"ListAuditEvents"}},

		{harvesterSvc, act, []string{"StartRun", "CancelRun", "RetryParkedItem", "PreviewImport"}},
		// Testing a connection sends a credential to an address of the caller's choosing:
		// the administrator's, who configures both.
		{harvesterSvc, configure, []string{"TestConnection"}},
		{harvesterSvc, read, []string{"GetRun", "ListRuns", "ListRunEvents", "WatchRun", "ListScheduledJobs", "ListParkedItems"}},

		{requestSvc, readHarvest, []string{"ListBorrowingRequests"}},
		{requestSvc, read, []string{
			"GetBorrowingRequest", "CountBorrowingRequests", "ListAllowedActions",
			"ListRequestEvents", "WatchBorrowingRequests",
		}},
		{requestSvc, act, []string{
			"MarkReadyToSend", "SendBorrowingRequest", "ReceiveBorrowingRequest",
			"LoanToPatron", "ReturnByPatron", "ReturnToPartner",
			"CompleteBorrowingRequest", "DeclareItemLost", "CancelBorrowingRequest", "RejectBorrowingRequest",
			"ExpireBorrowingRequest", "ReactivateBorrowingRequest",
			"AddBorrowingRequestNote", "ResolveBorrowingRequestAttention",
			"AnonymizeBorrowingRequest", "AnonymizeBorrowingRequests", "BatchActBorrowingRequests",
		}},
		{ingestSvc, harvesterOnly, []string{"IngestBorrowingRequests", "FlagBorrowingRequest"}},

		{backupSvc, backup, []string{"Backup"}},
		{identitySvc, anyToken, []string{"GetCaller"}},

		{healthSvc, anyone, []string{"Check", "List", "Watch"}},
		{reflectionSvc, anyToken, []string{"ServerReflectionInfo"}},
		{reflectionV1a, anyToken, []string{"ServerReflectionInfo"}},
	}
}
