package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
)

type request struct{ execution string }

func (r request) AuditExecution() string { return r.execution }

// TestRecord: one line per change, with the execution from the request, the outcome
// (done, refused by a condition, failed) and what changed.
func TestRecord(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	conflict := errors.New("ConditionalCheckFailedException: the conditional request failed")
	isConflict := func(err error) bool { return errors.Is(err, conflict) }
	const arn = "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-instance:console-1"
	ctx := FromRequest(context.Background(), request{arn})
	Record(ctx, Deregister, nil, nil, Instance("i-0123456789abcdef0"), Group("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"), Ports([]int32{8080, 8081}))
	Record(ctx, ReserveGroup, conflict, isConflict, Instance("i-0123456789abcdef0"))
	Record(context.Background(), SendCommand, errors.New("AccessDeniedException: not authorized"), isConflict, Instance("i-0123456789abcdef0"))
	Record(FromRequest(context.Background(), struct{}{}), Tag, nil, nil, Instances([]string{"i-1", "i-2"}))

	want := []map[string]any{
		{"level": "INFO", "msg": Message, "action": Deregister, "outcome": Done, "execution": arn, "instance": "i-0123456789abcdef0",
			"group": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef", "ports": []any{8080.0, 8081.0}},
		{"level": "INFO", "msg": Message, "action": ReserveGroup, "outcome": Refused, "execution": arn, "instance": "i-0123456789abcdef0",
			"error": conflict.Error()},
		{"level": "WARN", "msg": Message, "action": SendCommand, "outcome": Failed, "execution": "", "instance": "i-0123456789abcdef0",
			"error": "AccessDeniedException: not authorized"},
		{"level": "INFO", "msg": Message, "action": Tag, "outcome": Done, "execution": "", "instances": []any{"i-1", "i-2"}},
	}
	dec := json.NewDecoder(&buf)
	for i, w := range want {
		var got map[string]any
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		delete(got, "time")
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(w)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("line %d:\n got  %s\n want %s", i, gotJSON, wantJSON)
		}
	}
	if dec.More() {
		t.Error("more lines than changes")
	}
}
