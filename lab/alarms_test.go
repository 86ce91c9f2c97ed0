package lab_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/sfn"
)

// TestAlarmDuringBakeStopsTheRollout: a watched alarm goes into ALARM during the bake
// after the first wave and is OK again before the bake ends. The rollout stops there with
// AlarmActive: the first wave's instance is back in service, no other instance was taken
// out, and every lease and reservation is released.
func TestAlarmDuringBakeStopsTheRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	l := startLab(t, cfg)
	l.API.Alarms.Create("web-5xx", false)
	l.API.Alarms.Create("web-latency", false)
	var once sync.Once
	cancel := l.SFN.Subscribe(func(e sfn.Event) {
		if e.InstanceID == "" && e.Type == "StateEntered" && e.Name == "Bake" {
			once.Do(func() {
				_ = l.API.Alarms.Set("web-5xx", "ALARM", "Threshold Crossed: 12 datapoints were greater than the threshold (5.0)")
				go func() {
					_ = l.Clock.Sleep(context.Background(), 5*time.Second) // lab seconds, well inside the 60 s bake
					_ = l.API.Alarms.Set("web-5xx", "OK", "back under the threshold")
				}()
			})
		}
	})
	defer cancel()
	r := rollout(t, l, "baked", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 50,
		"alarms": map[string]any{"namePrefix": "web-"}, "bakeSeconds": 60}))
	if r.result.Succeeded || r.result.Error != faults.AlarmActive || !strings.Contains(r.result.Cause, "went into ALARM during the bake") ||
		!strings.Contains(r.result.Cause, "web-5xx") {
		t.Fatalf("the rollout: %s %s: %s", r.result.Status, r.result.Error, r.result.Cause)
	}
	if len(r.out) != 1 {
		t.Errorf("%d instances were taken out; only the first wave's may be", len(r.out))
	}
	for _, total := range r.totals {
		if total.Failed() != 0 {
			t.Errorf("requests lost: %+v", total)
		}
	}
	assertBack(t, l, cfg)
	assertNothingHeld(t, l)
}

// TestAlarmInAlarmChangesNothing: with a watched alarm already in ALARM, a fleet rollout
// and a lone execution both refuse with AlarmActive, and a lone execution naming an alarm
// that does not exist refuses with AlarmNotFound; nothing is taken out, and nothing is
// held afterwards.
func TestAlarmInAlarmChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := startLab(t, lab.Demo())
	ctx := context.Background()
	l.API.Alarms.Create("web-composite", true)
	if err := l.API.Alarms.Set("web-composite", "ALARM", "ALARM(web-5xx) OR ALARM(web-latency)"); err != nil {
		t.Fatal(err)
	}
	fleet := rollout(t, l, "in-alarm", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 50,
		"alarms": map[string]any{"names": []string{"web-composite"}}}))
	if fleet.result.Error != faults.AlarmActive || !strings.Contains(fleet.result.Cause, "web-composite (in ALARM since") {
		t.Errorf("the rollout: %s %s: %s", fleet.result.Status, fleet.result.Error, fleet.result.Cause)
	}
	for _, c := range []struct {
		alarms map[string]any
		want   string
	}{
		{map[string]any{"names": []string{"web-composite"}}, faults.AlarmActive},
		{map[string]any{"names": []string{"web-typo"}}, faults.AlarmNotFound},
		{map[string]any{"namePrefix": "queue-"}, faults.AlarmNotFound},
		{map[string]any{"commandAlarm": "web-typo"}, faults.AlarmNotFound},
		{map[string]any{"commandAlarm": "web-composite"}, faults.AlarmActive},
	} {
		res, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"},
			"alarms": c.alarms}, nil)
		if err != nil || res.Error != c.want {
			t.Errorf("a lone execution with %v: %v %s %s", c.alarms, err, res.Error, res.Cause)
		}
	}
	assertNoChange(t, l)
	assertNothingHeld(t, l)
}

// TestCommandAlarmStopsTheMaintenance: a lone execution whose maintenance command SSM
// watches an alarm (alarms.commandAlarm, sent as SendCommand's AlarmConfiguration). The
// alarm goes into ALARM while the command runs: SSM stops the command, the execution fails
// with MaintenanceFailed naming the alarm, and the instance, which was never rebooted, is
// back in service with nothing held and no request lost.
func TestCommandAlarmStopsTheMaintenance(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	l := startLab(t, cfg)
	ctx := context.Background()
	l.API.Alarms.Create("web-5xx", false)
	var once sync.Once
	cancel := l.SFN.Subscribe(func(e sfn.Event) {
		if e.Type == "StateEntered" && e.Name == "WaitForMaintenance" {
			once.Do(func() { _ = l.API.Alarms.Set("web-5xx", "ALARM", "Threshold Crossed") })
		}
	})
	defer cancel()
	start := time.Now()
	res, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "commands", "commands": []string{"sleep 600"}},
		"alarms":      map[string]any{"commandAlarm": "web-5xx"}}, nil)
	if err != nil || res.Error != faults.MaintenanceFailed || !strings.Contains(res.Cause, "SSM stopped it on its alarm web-5xx (ALARM)") {
		t.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the execution took %v: the command was not stopped when its alarm went off", took)
	}
	sent := l.SSM.Commands(l.Instances[0].ID)
	if len(sent) == 0 || sent[0].Alarm == nil || sent[0].Alarm.Alarm != "web-5xx" || sent[0].Status != "Cancelled" {
		t.Errorf("the maintenance command as SSM has it: %+v", sent)
	}
	assertBack(t, l, cfg)
	assertNothingHeld(t, l)
}
