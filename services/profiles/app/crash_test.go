package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
)

// The crash test re-runs this test binary as the profiles server (a separate process,
// so SIGKILL is a real crash); these variables tell the child what to do.
const (
	childEnv   = "INTERLOAN_PROFILES_CRASH_CHILD"
	dataDirEnv = "INTERLOAN_PROFILES_CRASH_DATA"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

func runChild() {
	dir := os.Getenv(dataDirEnv)
	cfg := Config{
		Common:        server.Common{DataDir: dir, GRPCAddr: "127.0.0.1:0", Logger: logging.Discard(), TokensFile: filepath.Join(dir, "tokens")},
		SecretKeyFile: filepath.Join(dir, "key"),
	}
	cfg.Ready = func(g, _ net.Addr) {
		// Written atomically, so the parent never reads a half-written address.
		_ = os.WriteFile(filepath.Join(dir, "addr.tmp"), []byte(g.String()), 0o600)
		_ = os.Rename(filepath.Join(dir, "addr.tmp"), filepath.Join(dir, "addr"))
	}
	if err := Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// TestKillDuringWritesLosesNothingAcknowledged kills the server with SIGKILL while
// clients are creating profiles, restarts it on the same bbolt file, and checks that
// every create the server acknowledged is there, with a usable credential.
func TestKillDuringWritesLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))), 0o600); err != nil {
		t.Fatal(err)
	}
	// One token to configure profiles and, as the harvester would, read their keys back.
	token, line, err := auth.NewToken("test", auth.RoleAdmin, auth.RoleHarvester)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	child, conn := startChild(t, dir, token)
	client := profilesv1.NewProfileServiceClient(conn)

	var mu sync.Mutex
	var acked []string
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				code := fmt.Sprintf("W%d-%d", w, i)
				_, err := client.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{
					IntegrationProfile: &profilesv1.IntegrationProfile{Code: code, DisplayName: code, ApiKey: "key-" + code},
				})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, code)
				mu.Unlock()
			}
		}()
	}
	for { // let some writes land, then crash mid-stream
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	stop()
	wg.Wait()

	child, conn = startChild(t, dir, token)
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	client = profilesv1.NewProfileServiceClient(conn)
	creds := profilesv1.NewProfileCredentialsServiceClient(conn)
	for _, code := range acked {
		name := "integrationProfiles/" + code
		c, err := creds.GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: name})
		if err != nil || c.ApiKey != "key-"+code {
			t.Fatalf("acknowledged %s lost or damaged after the crash: %v %v", code, c, err)
		}
	}
	if _, err := client.ListIntegrationProfiles(context.Background(), &profilesv1.ListIntegrationProfilesRequest{PageSize: 1000}); err != nil {
		t.Fatalf("list after crash: %v", err)
	}
	t.Logf("%d acknowledged creates survived SIGKILL", len(acked))
}

// startChild starts the server process on dir and returns it with a connection to it.
func startChild(t *testing.T, dir, token string) (*exec.Cmd, *grpc.ClientConn) {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", dataDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var addr []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if addr, err = os.ReadFile(filepath.Join(dir, "addr")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("child server did not start")
		}
	}
	conn, err := grpc.NewClient(string(addr), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.BearerToken(token, false)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cmd, conn
}
