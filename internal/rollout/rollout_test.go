package rollout

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/drainpipe/drainpipe/internal/faults"
)

func TestDecodeInput(t *testing.T) {
	ok := `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxConcurrency":2,"minHealthyPercent":75,"maxErrors":1,"notAfter":"2026-11-22T06:00:00Z","skipIfMaintainedWithin":"7d"}`
	tests := []struct {
		name, input, wantErr string
	}{
		{"valid", ok, ""},
		{"no groups", `{"maintenance":{"action":"patch"}}`, `"targetGroupArns" is required`},
		{"unknown field", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"instanceId":"i-1"}`, `unknown field "instanceId"`},
		{"percent", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"minHealthyPercent":120}`, `"minHealthyPercent" must be between 0 and 100`},
		{"negative errors", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxErrors":-1}`, `"maxErrors" must be 0 or more`},
		{"window", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"notAfter":"tomorrow"}`, `"notAfter" "tomorrow" is not an RFC 3339 time`},
		{"resume", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"skipIfMaintainedWithin":"a week"}`, `is not a duration`},
		{"maintenance checked as the instance machine does", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"restart"}}`, `"maintenance.action" "restart" is unknown`},
		{"bad instance", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"instanceIds":["x"]}`, `is not an EC2 instance id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := DecodeInput([]byte(tt.input))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b := in.Budget(); b.MaxConcurrency != 2 || b.MinHealthyPercent != 75 || in.MaintainedWithin() != 7*24*time.Hour {
					t.Errorf("budget %+v, within %v", b, in.MaintainedWithin())
				}
				return
			}
			if faults.NameOf(err) != faults.InvalidInput || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want InvalidInput with %q", err, tt.wantErr)
			}
		})
	}
	in, _ := DecodeInput([]byte(`{"targetGroupArns":["` + web + `"],"maintenance":{"action":"reboot"}}`))
	if b := in.Budget(); b.MaxConcurrency != 1 || b.MinHealthyPercent != DefaultMinHealthyPercent {
		t.Errorf("defaults %+v", b)
	}
	child := in.ChildInput(id(1), []string{web}, map[string]int{web: 3})
	if err := child.Validate(); err != nil || child.MinHealthyTargets[web] != 3 || child.TargetGroupARNs[0] != web {
		t.Errorf("child input %+v: %v", child, err)
	}
}

type fakeTagger struct{ tagged []string }

func (f *fakeTagger) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.tagged = append(f.tagged, in.Resources...)
	return &ec2.CreateTagsOutput{}, nil
}

func waveResult(id string, ok bool, cause string) WaveItemResult {
	var r WaveItemResult
	r.InstanceID = id
	if ok {
		r.Result = &struct {
			Status       string          `json:"Status"`
			ExecutionArn string          `json:"ExecutionArn"`
			Output       json.RawMessage `json:"Output"`
		}{Status: "SUCCEEDED", ExecutionArn: "arn:x:" + id, Output: json.RawMessage(`{"phaseSeconds":{"drain":31}}`)}
	} else {
		r.Error = &struct {
			Error string `json:"Error"`
			Cause string `json:"Cause"`
		}{Error: "States.TaskFailed", Cause: cause}
	}
	return r
}

func TestRecord(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	state := func(maxErrors int, notAfter string) State {
		s := State{Input: Input{MaxErrors: maxErrors, NotAfter: notAfter}, Waves: [][]Item{{{InstanceID: id(1)}, {InstanceID: id(2)}}, {{InstanceID: id(3)}}, {{InstanceID: id(4)}}}}
		return s
	}
	failedCause := `{"Error":"MaintenanceFailed","Cause":"exit 1","ExecutionArn":"arn:child","Status":"FAILED"}`
	tests := []struct {
		name        string
		state       State
		results     []WaveItemResult
		wantDone    bool
		wantAborted bool
		wantReason  string
	}{
		{"next wave", state(0, ""), []WaveItemResult{waveResult(id(1), true, ""), waveResult(id(2), true, "")}, false, false, ""},
		{"error budget spent", state(0, ""), []WaveItemResult{waveResult(id(1), true, ""), waveResult(id(2), false, failedCause)}, true, true, "more than maxErrors 0"},
		{"within the error budget", state(1, ""), []WaveItemResult{waveResult(id(1), true, ""), waveResult(id(2), false, failedCause)}, false, false, ""},
		{"window closed", state(0, "2026-11-22T04:00:00Z"), []WaveItemResult{waveResult(id(1), true, ""), waveResult(id(2), true, "")}, true, false, "maintenance window ended"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tagger := &fakeTagger{}
			s := tt.state
			s.WaveResults = tt.results
			got, err := Recorder{EC2: tagger, Now: func() time.Time { return now }}.Record(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if got.Cursor.Done != tt.wantDone || got.Cursor.Aborted != tt.wantAborted || !strings.Contains(got.Cursor.StopReason, tt.wantReason) || got.Cursor.Wave != 1 {
				t.Errorf("cursor %+v", got.Cursor)
			}
			if len(got.Results) != 2 || got.WaveResults != nil {
				t.Errorf("results %+v", got.Results)
			}
			for _, r := range got.Results {
				if !r.Succeeded && (r.Error != "MaintenanceFailed" || r.Cause != "exit 1" || r.ExecutionARN != "arn:child") {
					t.Errorf("failed child read as %+v", r)
				}
				if r.Succeeded && r.PhaseSeconds["drain"] != 31 {
					t.Errorf("phases %+v", r)
				}
			}
			for _, tagged := range tagger.tagged {
				for _, r := range got.Results {
					if r.InstanceID == tagged && !r.Succeeded {
						t.Errorf("failed %s tagged as maintained", tagged)
					}
				}
			}
		})
	}
	s := state(0, "")
	s.Cursor.Wave = 2
	s.WaveResults = []WaveItemResult{waveResult(id(4), true, "")}
	if got, _ := (Recorder{EC2: &fakeTagger{}}).Record(context.Background(), s); !got.Cursor.Done || got.Cursor.Aborted {
		t.Errorf("after the last wave: %+v", got.Cursor)
	}
}

type fakeSNS struct{ messages []string }

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.messages = append(f.messages, *in.Message)
	return &sns.PublishOutput{}, nil
}

func TestSummarize(t *testing.T) {
	s := State{ExecutionARN: "arn:rollout", TopicARN: "arn:topic", StartedAt: "2026-11-22T05:00:00Z",
		Waves:   [][]Item{{{InstanceID: id(1)}}, {{InstanceID: id(2)}}, {{InstanceID: id(3)}}},
		Skipped: []Skip{{InstanceID: id(9), Reason: "not running (state stopped)"}},
		Cursor:  Cursor{Wave: 2, Done: true, Aborted: true, StopReason: "1 instance(s) failed, more than maxErrors 0"},
		Results: []Result{{InstanceID: id(1), Succeeded: true}, {InstanceID: id(2), Wave: 1, Error: "MaintenanceFailed", Cause: "exit 1"}}}
	f := &fakeSNS{}
	sum, err := Summarizer{SNS: f, Now: func() time.Time { return time.Date(2026, 11, 22, 5, 10, 0, 0, time.UTC) }}.Summarize(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Planned: 3, Succeeded: 1, Failed: 1, Skipped: 1, NotStarted: 1}
	if sum.Outcome != OutcomeAborted || !sum.Aborted || sum.Counts != want || sum.TotalSeconds != 600 || sum.NotStarted[0] != id(3) {
		t.Errorf("summary %+v", sum)
	}
	for _, part := range []string{"FAILED " + id(2), "MaintenanceFailed: exit 1", "skipped " + id(9), "not started: " + id(3)} {
		if !strings.Contains(sum.Text, part) {
			t.Errorf("text lacks %q:\n%s", part, sum.Text)
		}
	}
	if len(f.messages) != 1 || f.messages[0] != sum.Text {
		t.Errorf("notification %v", f.messages)
	}
	s.Input.DryRun = true
	f.messages = nil
	if sum, _ := (Summarizer{SNS: f}).Summarize(context.Background(), s); sum.Outcome != OutcomeDryRun || len(f.messages) != 0 {
		t.Errorf("dry run summary %s, %d notifications", sum.Outcome, len(f.messages))
	}
}

// fakeDB: one item per key; PutItem's condition read as the lease's (free, expired or
// mine); DeleteItem's as holder = me.
type fakeDB struct {
	items map[string]map[string]ddbtypes.AttributeValue
}

func attr(m map[string]ddbtypes.AttributeValue, k string) string {
	switch v := m[k].(type) {
	case *ddbtypes.AttributeValueMemberS:
		return v.Value
	case *ddbtypes.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

func (f *fakeDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	key := attr(in.Item, "pk")
	if cur, ok := f.items[key]; ok && attr(cur, "holder") != attr(in.ExpressionAttributeValues, ":me") && attr(cur, "expiresAt") >= attr(in.ExpressionAttributeValues, ":now") {
		return nil, &ddbtypes.ConditionalCheckFailedException{}
	}
	f.items[key] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeDB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	key := attr(in.Key, "pk")
	if attr(f.items[key], "holder") != attr(in.ExpressionAttributeValues, ":me") {
		return nil, &ddbtypes.ConditionalCheckFailedException{}
	}
	delete(f.items, key)
	return &dynamodb.DeleteItemOutput{}, nil
}

func (f *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: f.items[attr(in.Key, "pk")]}, nil
}

func TestLeases(t *testing.T) {
	db := &fakeDB{items: map[string]map[string]ddbtypes.AttributeValue{}}
	now := time.Unix(1000, 0)
	l := Locker{API: db, Now: func() time.Time { return now }}
	st := func(holder string, groups ...string) State {
		return State{ExecutionARN: holder, LeaseTable: "leases", Input: Input{TargetGroupARNs: groups, LeaseSeconds: 100}}
	}
	a, err := l.Acquire(context.Background(), st("a", web, api))
	if err != nil || len(a.Held) != 2 || a.ExpiresAt != 1100 {
		t.Fatalf("a: %+v %v", a, err)
	}
	// b overlaps on api: refused, naming a, and its lease on the other group given back.
	other := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/other/0000000000000001"
	_, err = l.Acquire(context.Background(), st("b", other, api))
	if faults.NameOf(err) != faults.RolloutInProgress || !strings.Contains(err.Error(), "locked by rollout a") {
		t.Errorf("b: %v", err)
	}
	if _, held := db.items[LeaseKey(other)]; held {
		t.Error("b kept its lease on the group it did get")
	}
	if holder, _ := heldByOther(context.Background(), db, "leases", api, "b", now); holder != "a" {
		t.Errorf("heldByOther = %q", holder)
	}
	// After a's expiry, c takes over.
	now = time.Unix(2000, 0)
	if _, err := l.Acquire(context.Background(), st("c", api)); err != nil {
		t.Errorf("taking over an expired lease: %v", err)
	}
	s := st("a", web, api)
	s.Leases = &a
	released, err := l.Release(context.Background(), s)
	if err != nil || len(released) != 1 || released[0] != web {
		t.Errorf("a releases %v (%v); the lease c took over must stay", released, err)
	}
	if _, ok := db.items[LeaseKey(api)]; !ok {
		t.Error("a released c's lease")
	}
	// A release that does not know what it holds (Acquire failed midway) still gives back
	// this execution's leases, and only those.
	if _, err := l.Acquire(context.Background(), st("d", web)); err != nil {
		t.Fatal(err)
	}
	released, err = l.Release(context.Background(), st("d", web, api))
	if err != nil || len(released) != 1 || released[0] != web || db.items[LeaseKey(api)] == nil {
		t.Errorf("d releases %v (%v)", released, err)
	}
	// Acquiring again renews: the same holder, a later expiry.
	now = time.Unix(3000, 0)
	first, _ := l.Acquire(context.Background(), st("e", web))
	now = time.Unix(3050, 0)
	again, err := l.Acquire(context.Background(), st("e", web))
	if err != nil || again.ExpiresAt != first.ExpiresAt+50 {
		t.Errorf("renewal: %+v then %+v, %v", first, again, err)
	}
}
