package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/interloan/interloan/external/libris"
	"github.com/interloan/interloan/fakes/fakelibris"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// suite is the running suite, its fake Libris and the profiles it imports.
type suite struct {
	env      *testenv.Env
	fake     *fakelibris.Server
	profiles []profile
}

// profile is one seeded profile: its name, the sigel it reads, and the lenders of the
// requests added to that sigel each round.
type profile struct {
	name, sigel string
	lenders     []string
}

// startSuite starts the suite over a fake Libris (plain HTTP: Prometheus scrapes it
// without a CA) and seeds MAIN, two partners and three profiles: lund imports cleanly,
// umea reads requests half of which are lent by Lkp, no partner (they fail, are retried
// and parked), and kiruna has an API key Libris refuses (its runs fail).
func startSuite(ctx context.Context) (*suite, error) {
	fake := fakelibris.New(fakelibris.Options{})
	env, err := testenv.Start(ctx, testenv.Options{Libris: fake, LogLevel: "error"})
	if err != nil {
		return nil, err
	}
	s := &suite{env: env, fake: fake}
	if err := s.seed(ctx); err != nil {
		return nil, errors.Join(err, env.Close())
	}
	return s, nil
}

func (s *suite) close() {
	if err := s.env.Close(); err != nil {
		log.Print(err)
	}
}

func (s *suite) seed(ctx context.Context) error {
	sys := libris.System.Enum
	if err := s.env.CreateLibrary(ctx, testenv.LocalLibrary, "Stadsbiblioteket"); err != nil {
		return err
	}
	for _, p := range []string{"Xyz", "Qrs"} {
		if err := s.env.CreatePartner(ctx, sys, p, p+" bibliotek"); err != nil {
			return err
		}
	}
	start := time.Now().AddDate(0, 0, -6)
	for _, p := range []struct {
		code, sigel, key string
		lenders          []string
		schedule         *profilesv1.Schedule
	}{
		{"lund", "Lund", "key-lund", []string{"Xyz", "Qrs"}, daily(2)},
		{"umea", "Umea", "key-umea", []string{"Xyz", "Lkp"}, weekly()},
		{"kiruna", "Kiru", "wrong-key", []string{"Xyz"}, daily(3)},
	} {
		if p.key != "wrong-key" {
			s.fake.AddKey(p.key, p.sigel)
		}
		if err := s.env.MapLibrary(ctx, sys, p.sigel, testenv.LocalLibrary); err != nil {
			return err
		}
		prof := testenv.Profile(sys, p.code, s.env.Libris.URL, p.sigel, p.key, start)
		prof.Schedule = p.schedule
		name, err := s.env.CreateProfile(ctx, prof)
		if err != nil {
			return fmt.Errorf("profile %s: %w", p.code, err)
		}
		s.profiles = append(s.profiles, profile{name: name, sigel: p.sigel, lenders: p.lenders})
		s.add(p.sigel, p.lenders, 40, int64(len(s.profiles)))
	}
	return nil
}

// add puts n generated requests of sigel, ordered in the last week, into the fake.
func (s *suite) add(sigel string, lenders []string, n int, seed int64) {
	now := time.Now()
	s.fake.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: seed, Sigel: sigel, Count: n, From: now.AddDate(0, 0, -6), To: now, Lenders: lenders})...)
}

// drive runs every profile about every six seconds until d has passed, adding a few
// new requests to each sigel before each round.
func (s *suite) drive(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for round := int64(1); time.Now().Before(deadline); round++ {
		var wg sync.WaitGroup
		for i, p := range s.profiles {
			s.add(p.sigel, p.lenders, 3+int(round%4), 100*round+int64(i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A scheduled run may hold the profile now and then; that round skips it.
				if _, err := testenv.Import(ctx, s.env.Harvester, p.name); err != nil && ctx.Err() == nil {
					log.Printf("%s: %v", p.name, err)
				}
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(6 * time.Second):
		}
	}
	return nil
}

func daily(hour int32) *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: "Europe/Stockholm", Kind: &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: &typev1.TimeOfDay{Hours: hour}}}}
}

func weekly() *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: "Europe/Stockholm", Kind: &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, Time: &typev1.TimeOfDay{Hours: 6}}}}
}
