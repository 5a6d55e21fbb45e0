package auth

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// Every generated package with services registers its descriptors; a new package
	// must be added here, which TestEveryGeneratedPackageIsImported enforces.
	_ "github.com/interloan/interloan/gen/interloan/admin/v1"
	_ "github.com/interloan/interloan/gen/interloan/harvester/v1"
	_ "github.com/interloan/interloan/gen/interloan/mapping/v1"
	_ "github.com/interloan/interloan/gen/interloan/profiles/v1"
	_ "github.com/interloan/interloan/gen/interloan/requests/v1"
	// What server.New registers besides the suite's own services.
	_ "google.golang.org/grpc/health/grpc_health_v1"
	_ "google.golang.org/grpc/reflection/grpc_reflection_v1"
	_ "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// servedPackages are the proto packages whose services a suite server may serve.
func served(pkg string) bool {
	return strings.HasPrefix(pkg, "interloan.") ||
		pkg == "grpc.health.v1" || pkg == "grpc.reflection.v1" || pkg == "grpc.reflection.v1alpha"
}

// servedMethods maps every full method name a suite server may serve to its descriptor,
// read from the registered file descriptors of the generated code.
func servedMethods(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	out := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !served(string(fd.Package())) {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				out["/"+string(sd.FullName())+"/"+string(md.Name())] = md
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no service descriptors registered")
	}
	return out
}

// TestPolicyCoversEveryRPC fails when an RPC is added without a policy entry, or when
// the policy names an RPC that no longer exists.
func TestPolicyCoversEveryRPC(t *testing.T) {
	methods := servedMethods(t)
	policy := DefaultPolicy()
	for m := range methods {
		if _, ok := policy[m]; !ok {
			t.Errorf("%s has no entry in DefaultPolicy: decide which roles may call it", m)
		}
	}
	for _, m := range policy.Methods() {
		if _, ok := methods[m]; !ok {
			t.Errorf("DefaultPolicy names %s, which no service has", m)
		}
	}
	if err := policy.Validate(); err != nil {
		t.Error(err)
	}
}

// TestEveryGeneratedPackageIsImported keeps TestPolicyCoversEveryRPC honest: every
// generated package with a gRPC service must be imported above, or its RPCs would go
// unchecked.
func TestEveryGeneratedPackageIsImported(t *testing.T) {
	files, err := filepath.Glob("../../gen/interloan/*/v1/*_grpc.pb.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated service code found: %v", err)
	}
	for _, f := range files {
		pkg := "interloan." + filepath.Base(filepath.Dir(filepath.Dir(f))) + ".v1"
		n := 0
		protoregistry.GlobalFiles.RangeFilesByPackage(protoreflect.FullName(pkg), func(protoreflect.FileDescriptor) bool {
			n++
			return true
		})
		if n == 0 {
			t.Errorf("%s: package %s is not imported by policy_test.go", f, pkg)
		}
	}
	// And the proto sources have no package the generated code lacks.
	protos, _ := filepath.Glob("../../proto/interloan/*/v1/*.proto")
	for _, p := range protos {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\nservice ") {
			continue
		}
		gen := filepath.Join("../../gen/interloan", filepath.Base(filepath.Dir(filepath.Dir(p))), "v1")
		if g, _ := filepath.Glob(gen + "/*_grpc.pb.go"); len(g) == 0 {
			t.Errorf("%s declares services but %s has no generated gRPC code", p, gen)
		}
	}
}

func TestDefaultPolicyListsEachMethodOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range defaultRules() {
		for _, name := range r.names {
			if seen[r.prefix+name] {
				t.Errorf("%s%s is listed twice", r.prefix, name)
			}
			seen[r.prefix+name] = true
		}
	}
}

// TestDefaultPolicyIsFresh: callers cannot change the table for others.
func TestDefaultPolicyIsFresh(t *testing.T) {
	a := DefaultPolicy()
	const m = "/interloan.requests.v1.RequestService/GetBorrowingRequest"
	a[m][0] = RoleHarvester
	delete(a, "/interloan.requests.v1.RequestService/ListBorrowingRequests")
	b := DefaultPolicy()
	if b[m][0] != RoleAdmin || len(b) != len(a)+1 {
		t.Fatal("DefaultPolicy shares state between calls")
	}
	// Entries do not share a backing array either.
	b[m] = append(b[m][:0], RoleHarvester)
	if b["/interloan.requests.v1.RequestService/CountBorrowingRequests"][0] != RoleAdmin {
		t.Fatal("entries share their role slices")
	}
}

// TestPolicyRules states the roles' rules directly over the table.
func TestPolicyRules(t *testing.T) {
	p := DefaultPolicy()
	var harvesterMethods []string
	for _, m := range p.Methods() {
		roles := p[m]
		if slices.Contains(roles, RoleHarvester) {
			harvesterMethods = append(harvesterMethods, m)
		}
		if slices.Contains(roles, RoleViewer) && !slices.Contains(roles, RoleOperator) {
			t.Errorf("%s: a viewer may, an operator may not", m)
		}
		if slices.Contains(roles, RoleOperator) && !slices.Contains(roles, RoleAdmin) {
			t.Errorf("%s: an operator may, an admin may not", m)
		}
	}
	want := []string{
		"/interloan.mapping.v1.MappingService/GetLibrary",
		"/interloan.mapping.v1.MappingService/ResolveLibraryCodes",
		"/interloan.mapping.v1.MappingService/ResolvePartnerCodes",
		"/interloan.profiles.v1.ProfileCredentialsService/GetProfileCredentials",
		"/interloan.profiles.v1.ProfileService/GetIntegrationProfile",
		"/interloan.profiles.v1.ProfileService/ListIntegrationProfiles",
		"/interloan.requests.v1.IngestService/FlagBorrowingRequest",
		"/interloan.requests.v1.IngestService/IngestBorrowingRequests",
		"/interloan.requests.v1.RequestService/ListBorrowingRequests",
	}
	if !slices.Equal(harvesterMethods, want) {
		t.Errorf("harvester may call\n%s\nwant exactly\n%s", strings.Join(harvesterMethods, "\n"), strings.Join(want, "\n"))
	}
	if got := p["/interloan.profiles.v1.ProfileCredentialsService/GetProfileCredentials"]; !slices.Equal(got, []Role{RoleHarvester}) {
		t.Errorf("GetProfileCredentials: %v, want harvester only", got)
	}
	// The audit trail of configuration changes is the administrators' (item 6).
	for _, m := range []string{"/interloan.profiles.v1.ProfileService/ListAuditEvents", "/interloan.mapping.v1.MappingService/ListAuditEvents"} {
		if got := p[m]; !slices.Equal(got, []Role{RoleAdmin}) {
			t.Errorf("%s: %v, want admin only", m, got)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"good", Policy{"/a.B/C": {RoleAdmin}, "/grpc.health.v1.Health/Check": {Public}}, true},
		{"no slash", Policy{"a.B/C": {RoleAdmin}}, false},
		{"no method", Policy{"/a.B/": {RoleAdmin}}, false},
		{"no package", Policy{"/B/C": {RoleAdmin}}, false},
		{"extra part", Policy{"/a.B/C/D": {RoleAdmin}}, false},
		{"no roles", Policy{"/a.B/C": nil}, false},
		{"unknown role", Policy{"/a.B/C": {"root"}}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
}

func TestPolicyAllows(t *testing.T) {
	p := Policy{
		"/a.S/Admin":  {RoleAdmin},
		"/a.S/Public": {Public},
		"/a.S/Any":    {Authenticated},
		"/a.S/Two":    {RoleViewer, RoleHarvester},
	}
	admin := &Principal{Name: "a", Roles: []Role{RoleAdmin}}
	viewer := &Principal{Name: "v", Roles: []Role{RoleViewer}}
	none := &Principal{Name: "n"}
	tests := []struct {
		method string
		p      *Principal
		want   bool
	}{
		{"/a.S/Admin", admin, true},
		{"/a.S/Admin", viewer, false},
		{"/a.S/Admin", nil, false},
		{"/a.S/Public", nil, true},
		{"/a.S/Any", nil, false},
		{"/a.S/Any", none, true},
		{"/a.S/Two", viewer, true},
		{"/a.S/Two", admin, false}, // admin is not implied: the table says who
		{"/a.S/Missing", admin, false},
	}
	for _, tt := range tests {
		if got := p.Allows(tt.method, tt.p); got != tt.want {
			t.Errorf("Allows(%s, %v) = %v", tt.method, tt.p, got)
		}
	}
}
