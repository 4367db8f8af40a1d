package deployer

import (
	"context"
	"crypto/rand"
	"io"
	"os"
)

// SecretSources is where operator-provided secret values come from.
type SecretSources struct {
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)
	Random    io.Reader
	// Rotate names secrets to replace with new random values, even if kept.
	Rotate []string
}

// OSSecretSources reads the process environment and the local disk.
func OSSecretSources() SecretSources {
	return SecretSources{LookupEnv: os.LookupEnv, ReadFile: os.ReadFile, Random: rand.Reader}
}

// MakePlan observes the engine and reconciles it with the desired state:
// the plan that `plan` prints and `up` applies.
func MakePlan(ctx context.Context, eng Engine, d *Desired, src SecretSources, opts Options) (*Plan, error) {
	o, err := Observe(ctx, eng, d)
	if err != nil {
		return nil, err
	}
	secrets, salt, err := ResolveSecrets(d, o.Kept, src)
	if err != nil {
		return nil, err
	}
	p := reconcile(d, o, secrets, opts)
	p.salt = salt
	return p, nil
}

// PlanLocked is MakePlan for a run that holds the deploy lock and will
// apply the plan. Kept secrets whose holder is missing (made by an older
// swdeploy, or removed by hand) are read after it recreates the holder, so
// that the plan keeps them instead of generating new values.
func PlanLocked(ctx context.Context, eng Engine, d *Desired, src SecretSources, opts Options) (*Plan, error) {
	p, err := MakePlan(ctx, eng, d, src, opts)
	if err != nil || !p.observed.State.Volume || p.observed.State.HolderID != "" || len(d.Secrets) == 0 {
		return p, err
	}
	if err := ensureStateHolder(ctx, eng, d.Project.Name); err != nil {
		return nil, err
	}
	return MakePlan(ctx, eng, d, src, opts)
}

// Secrets lists the plan's secrets, their sources and versions, never
// their values.
func (p *Plan) Secrets() []ResolvedSecret { return secretsSummary(p.secrets) }

// Engine describes the engine the plan was made against.
func (p *Plan) Engine() EngineInfo {
	if p.observed == nil {
		return EngineInfo{}
	}
	return p.observed.Engine
}
