package auth_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/interloan/interloan/platform/auth"
)

// A server loads the token file, watches it, and puts the interceptors after its
// logging/recovery interceptor; a client sends its token with BearerToken.
func Example() {
	dir, _ := os.MkdirTemp("", "tokens")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tokens")

	// `interloan token create --role admin` would do this: print the token once, keep
	// only the line.
	token, line, err := auth.NewToken("alice", auth.RoleAdmin)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = os.WriteFile(path, []byte(line+"\n"), 0o600)

	log := slog.New(slog.DiscardHandler)
	tokens, err := auth.Load(path, auth.WithLogger(log))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tokens.Watch(ctx, 5*time.Second)

	policy := auth.DefaultPolicy()
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(tokens, policy, log)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(tokens, policy, log)),
	)
	defer srv.Stop()

	_ = grpc.WithPerRPCCredentials(auth.BearerToken(token, true)) // a client's dial option

	p, ok := tokens.Authenticate(token)
	fmt.Println(p.Name, p.Roles, ok)
	fmt.Println(policy.Allows("/interloan.profiles.v1.ProfileService/CreateIntegrationProfile", &p))
	fmt.Println(policy.Allows("/interloan.profiles.v1.ProfileCredentialsService/GetProfileCredentials", &p))
	// Output:
	// alice [admin] true
	// true
	// false
}
