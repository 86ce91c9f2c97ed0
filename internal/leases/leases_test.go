package leases

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/lab/rollouttest"
)

const (
	web = rollouttest.Web
	api = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/fedcba9876543210"
)

func TestLeases(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	now := time.Unix(1000, 0)
	l := Locker{API: db, Now: func() time.Time { return now }}
	a, err := l.Acquire(ctx, rollouttest.CapacityTable, "a", []string{web, api}, 100)
	if err != nil || len(a.Held) != 2 || a.ExpiresAt != 1100 {
		t.Fatalf("a: %+v %v", a, err)
	}
	// b overlaps on api: refused, naming a, and its lease on the other group given back.
	other := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/other/0000000000000001"
	_, err = l.Acquire(ctx, rollouttest.CapacityTable, "b", []string{other, api}, 100)
	if faults.NameOf(err) != faults.RolloutInProgress || !strings.Contains(err.Error(), "locked by rollout a") {
		t.Errorf("b: %v", err)
	}
	if holder, _ := HeldByOther(ctx, db, rollouttest.CapacityTable, other, "x", now); holder != "" {
		t.Errorf("b kept its lease on the group it did get (held by %q)", holder)
	}
	// After a's expiry, c takes over; a then releases only what is still its own.
	now = time.Unix(2000, 0)
	if _, err := l.Acquire(ctx, rollouttest.CapacityTable, "c", []string{api}, 100); err != nil {
		t.Errorf("taking over an expired lease: %v", err)
	}
	released, err := l.Release(ctx, rollouttest.CapacityTable, "a", []string{web, api})
	if err != nil || len(released) != 1 || released[0] != web {
		t.Errorf("a releases %v (%v); the lease c took over must stay", released, err)
	}
	if holder, _ := HeldByOther(ctx, db, rollouttest.CapacityTable, api, "a", now); holder != "c" {
		t.Errorf("api is held by %q, want c", holder)
	}
	// Acquiring again renews: the same holder, a later expiry.
	now = time.Unix(3000, 0)
	first, _ := l.Acquire(ctx, rollouttest.CapacityTable, "e", []string{web}, 100)
	now = time.Unix(3050, 0)
	again, err := l.Acquire(ctx, rollouttest.CapacityTable, "e", []string{web}, 100)
	if err != nil || again.ExpiresAt != first.ExpiresAt+50 {
		t.Errorf("renewal: %+v then %+v, %v", first, again, err)
	}
}
