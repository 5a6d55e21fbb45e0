// Package config binds flags to environment variables: each setting is a flag whose
// default comes from an INTERLOAN_* variable when that is set, so the same binary is
// configured by flags locally and by env in Kubernetes. Flags win over env.
package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Set is a flag.FlagSet that remembers env parse errors so Parse can report them.
type Set struct {
	*flag.FlagSet
	errs    []error
	secrets []secret
	envs    map[string]string // flag name → its env twin
}

// secret is a flag whose env value is applied after parsing, never shown as a default.
type secret struct {
	p         *string
	name, env string
}

// New returns a Set for a command name.
func New(name string) *Set {
	return &Set{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), envs: map[string]string{}}
}

// Env is the environment variable of flag name ("" for a flag bound without one).
func (s *Set) Env(name string) string { return s.envs[name] }

// String binds a string flag with env fallback.
func (s *Set) String(p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	s.envs[name] = env
	s.StringVar(p, name, def, usage+" (env "+env+")")
}

// Secret binds a string flag with env fallback whose value never appears in usage or
// error output (flag prints defaults on -h and on any mistyped flag, which ends up in logs).
func (s *Set) Secret(p *string, name, env, usage string) {
	s.envs[name] = env
	s.StringVar(p, name, "", usage+" (env "+env+"; never printed)")
	s.secrets = append(s.secrets, secret{p: p, name: name, env: env})
}

// Duration binds a duration flag with env fallback.
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	s.envs[name] = env
	s.DurationVar(p, name, envDefault(s, env, def, time.ParseDuration), usage+" (env "+env+")")
}

// Int binds an integer flag with env fallback.
func (s *Set) Int(p *int, name, env string, def int, usage string) {
	s.envs[name] = env
	s.IntVar(p, name, envDefault(s, env, def, strconv.Atoi), usage+" (env "+env+")")
}

// Bool binds a boolean flag with env fallback (strconv.ParseBool: 1, true, 0, false …).
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	s.envs[name] = env
	s.BoolVar(p, name, envDefault(s, env, def, strconv.ParseBool), usage+" (env "+env+")")
}

// envDefault is the flag default: the env value when set and well-formed, else def (a
// malformed env value is kept as an error for Parse to report).
func envDefault[T any](s *Set, env string, def T, parse func(string) (T, error)) T {
	v, ok := os.LookupEnv(env)
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s=%q: %w", env, v, err))
		return def
	}
	return x
}

// Parse parses args, failing first on any malformed environment value. Like flag
// errors, env errors are printed to the set's output, so callers only need to exit.
func (s *Set) Parse(args []string) error {
	if len(s.errs) > 0 {
		fmt.Fprintln(s.Output(), s.errs[0])
		return s.errs[0]
	}
	if err := s.FlagSet.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	s.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, sec := range s.secrets {
		if v, ok := os.LookupEnv(sec.env); ok && !given[sec.name] {
			*sec.p = v
		}
	}
	return nil
}
