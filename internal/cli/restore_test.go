package cli

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// TestRestoreProvesTheFile: `interloan restore` replaces a service's data file only with
// a sound backup of that service. A mapping backup offered as profiles, a truncated
// file, one with random bytes over a page in the middle and one with a zeroed page
// header are refused with a reason and change nothing — the damaged ones are checked in
// a child process, so whatever the check does to it, this process carries on. A backup
// of profiles replaces the file, and profiles started on it serves what was backed up.
func TestRestoreProvesTheFile(t *testing.T) {
	dir := t.TempDir()
	env := startSuite(t, dir)
	ctx := context.Background()
	if err := env.CreateLibrary(ctx, testenv.LocalLibrary, "Main"); err != nil {
		t.Fatal(err)
	}
	const backedUp = 40 // enough profiles for the file to span pages of its own
	for i := range backedUp {
		addProfile(t, env, fmt.Sprintf("p%02d", i))
	}
	profilesBackup := backupOf(t, env, "profiles", env.Addrs.Profiles)
	mappingBackup := backupOf(t, env, "mapping", env.Addrs.Mapping)
	addProfile(t, env, "later") // the live file now differs from the backup
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}

	live := filepath.Join(dir, "profiles.db")
	before, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(profilesBackup)
	if err != nil {
		t.Fatal(err)
	}
	pages := usedPages(t, profilesBackup)
	damaged := func(name string, damage func(b []byte) []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, damage(bytes.Clone(good)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	restore := func(service, in string, flags ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		args := append([]string{"restore", "--service", service, "--data-dir", dir, "--in", in, "--force"}, flags...)
		code := Main(args, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}

	for _, tc := range []struct {
		name, in string
		flags    []string
		want     string // in the refusal
	}{
		{"another service's backup", mappingBackup, nil, "mapping data, not profiles"},
		{"a newer schema", newer(t, profilesBackup), nil, "made by a newer Interloan (schema 99 > "},
		{"a check that does not finish in time", profilesBackup, []string{"--check-timeout", "1ns"}, "did not finish within 1ns"},
		{"truncated", damaged("truncated", func(b []byte) []byte { return b[:len(b)/2] }), nil, "damaged"},
		{"random bytes over a page in the middle", damaged("random", func(b []byte) []byte {
			p := pages.nearest(len(b) / 2)
			r := rand.New(rand.NewPCG(1, 2))
			for i := p * pages.size; i < (p+1)*pages.size; i++ {
				b[i] = byte(r.Uint32())
			}
			return b
		}), nil, "damaged"},
		{"zeroed page header", damaged("zeroed", func(b []byte) []byte {
			p := pages.nearest(len(b) / 4)
			clear(b[p*pages.size : p*pages.size+16]) // id, flags, count, overflow
			return b
		}), nil, "damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := restore("profiles", tc.in, tc.flags...)
			t.Logf("exit %d: %s", code, strings.TrimSpace(out))
			if code != 1 || !strings.Contains(out, tc.want) || !strings.Contains(out, "nothing changed") {
				t.Fatalf("exit %d, %q; want exit 1, a refusal saying %q and that nothing changed", code, out, tc.want)
			}
			if now, err := os.ReadFile(live); err != nil || !bytes.Equal(now, before) {
				t.Fatalf("the live file changed (%v)", err)
			}
			if left := strays(t, dir); len(left) != 0 {
				t.Fatalf("a refused restore left files: %v", left)
			}
		})
	}

	code, out := restore("profiles", profilesBackup)
	if code != 0 || !strings.Contains(out, "restored profiles") {
		t.Fatalf("restore of a good backup: exit %d, %s", code, out)
	}
	env = startSuite(t, dir)
	defer env.Close()
	list, err := env.Profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.GetIntegrationProfiles()); got != backedUp {
		t.Fatalf("profiles serves %d profiles after the restore, want the %d backed up", got, backedUp)
	}
}

func startSuite(t *testing.T, dir string) *testenv.Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func addProfile(t *testing.T, env *testenv.Env, code string) {
	t.Helper()
	p := testenv.Profile(typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, code, "https://iller.libris.kb.se/librisfjarrlan/api/",
		"Abc", "key-"+code, time.Now())
	if _, err := env.CreateProfile(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// backupOf takes a backup of service with `interloan backup` and returns its file.
func backupOf(t *testing.T, env *testenv.Env, service, addr string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), service+".backup")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"backup", "--service", service, "--addr", addr, "--token-file", env.Addrs.AdminTokenFile,
		"--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("backup %s: exit %d, %s", service, code, stderr.String())
	}
	return out
}

// newer is a copy of the backup at path as a later release would have written it.
func newer(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "newer.backup")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(out, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{0, 0, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// pageMap lists the branch and leaf pages a bbolt file reaches, so damage lands where
// a reader goes rather than on a free page nothing reads.
type pageMap struct {
	size int
	used []int
}

func usedPages(t *testing.T, path string) pageMap {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := pageMap{size: db.Info().PageSize}
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				return err
			}
			if info.Type == "leaf" || info.Type == "branch" {
				m.used = append(m.used, id)
				id += info.OverflowCount
			}
		}
	})
	if err != nil || len(m.used) < 2 {
		t.Fatalf("pages of the backup: %v, %v", m.used, err)
	}
	return m
}

// nearest is the used page nearest to byte offset off.
func (m pageMap) nearest(off int) int {
	best := m.used[0]
	for _, p := range m.used {
		if abs(p*m.size-off) < abs(best*m.size-off) {
			best = p
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// strays are the files of dir other than those the suite keeps there.
func strays(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if strings.Contains(e.Name(), "restore") || strings.HasPrefix(e.Name(), ".profiles.db") {
			left = append(left, e.Name())
		}
	}
	return left
}
