package awsapi

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// cloudWatchPath is where CloudWatch's RPC v2 CBOR protocol posts an operation.
const cloudWatchPath = "/service/GraniteServiceVersion20100801/operation/"

// Alarms are the lab's CloudWatch alarms, metric or composite, which tests create and
// flip. Each change of state is kept as CloudWatch keeps it, a StateUpdate history item,
// stamped with the lab's clock (the functions' time).
type Alarms struct {
	mu      sync.Mutex
	now     func() time.Time
	alarms  map[string]*labAlarm
	history []historyItem
}

type labAlarm struct {
	name, state, reason string
	composite           bool
	updated             time.Time
}

type historyItem struct {
	name, kind, summary, data string
	composite                 bool
	at                        time.Time
}

// Create adds an alarm in state OK (a metric alarm, or a composite one).
func (a *Alarms) Create(name string, composite bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.alarms == nil {
		a.alarms = map[string]*labAlarm{}
	}
	a.alarms[name] = &labAlarm{name: name, state: "OK", reason: "created", composite: composite, updated: a.now()}
}

// State is an alarm's state now; ok is false when there is no such alarm.
func (a *Alarms) State(name string) (state string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if al, found := a.alarms[name]; found {
		return al.state, true
	}
	return "", false
}

// Set changes an alarm's state (OK, ALARM, INSUFFICIENT_DATA), as its metric or its rule
// would, and records the change in its history.
func (a *Alarms) Set(name, state, reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	al, ok := a.alarms[name]
	if !ok {
		return fmt.Errorf("no alarm %s", name)
	}
	if al.state == state {
		return nil
	}
	now := a.now()
	data, _ := json.Marshal(map[string]any{"version": "1.0", "oldState": map[string]string{"stateValue": al.state, "stateReason": al.reason},
		"newState": map[string]string{"stateValue": state, "stateReason": reason}})
	a.history = append(a.history, historyItem{name: name, kind: "StateUpdate", composite: al.composite, at: now,
		summary: fmt.Sprintf("Alarm updated from %s to %s", al.state, state), data: string(data)})
	al.state, al.reason, al.updated = state, reason, now
	return nil
}

// cloudWatch answers DescribeAlarms and DescribeAlarmHistory in CloudWatch's RPC v2 CBOR
// protocol, with its paging (MaxRecords, NextToken), its defaults (metric alarms only
// unless AlarmTypes asks for composite ones) and its errors.
func (s *Server) cloudWatch(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, cloudWatchPath)
	if s.fail(w, ServiceCloudWatch, op, "", s.call(ServiceCloudWatch, op, "")) {
		return
	}
	body, _ := io.ReadAll(r.Body)
	in := cbor.Map{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		m, ok := v.(cbor.Map)
		if err != nil || !ok {
			cborError(w, http.StatusBadRequest, "SerializationException", "the body is not a CBOR map")
			return
		}
		in = m
	}
	a := &s.Alarms
	a.mu.Lock()
	defer a.mu.Unlock()
	types := strs(in["AlarmTypes"])
	wanted := func(composite bool) bool {
		if composite {
			return slices.Contains(types, "CompositeAlarm")
		}
		return len(types) == 0 || slices.Contains(types, "MetricAlarm")
	}
	max := 50
	if v, ok := in["MaxRecords"]; ok {
		n, err := cbor.AsInt32(v)
		if err != nil || n < 1 || n > 100 {
			cborError(w, http.StatusBadRequest, "InvalidParameterValue", "The value for parameter MaxRecords must be between 1 and 100.")
			return
		}
		max = int(n)
	}
	from := 0
	if v, ok := in["NextToken"]; ok {
		n, err := strconv.Atoi(strings.TrimPrefix(str(v), "lab-"))
		if err != nil || !strings.HasPrefix(str(v), "lab-") {
			cborError(w, http.StatusBadRequest, "InvalidNextToken", "The service couldn't process the NextToken.")
			return
		}
		from = n
	}
	switch op {
	case "DescribeAlarms":
		names, prefix := strs(in["AlarmNames"]), str(in["AlarmNamePrefix"])
		if len(names) > 0 && prefix != "" {
			cborError(w, http.StatusBadRequest, "InvalidParameterCombination", "AlarmNames and AlarmNamePrefix cannot be specified together.")
			return
		}
		var list []*labAlarm
		for _, name := range slices.Sorted(maps.Keys(a.alarms)) {
			al := a.alarms[name]
			if (len(names) == 0 || slices.Contains(names, name)) && strings.HasPrefix(name, prefix) && wanted(al.composite) {
				list = append(list, al)
			}
		}
		page, next := pageOf(list, from, max)
		metric, composite := cbor.List{}, cbor.List{}
		for _, al := range page {
			item := cbor.Map{"AlarmName": cbor.String(al.name), "StateValue": cbor.String(al.state), "StateReason": cbor.String(al.reason),
				"StateUpdatedTimestamp": timestamp(al.updated), "AlarmArn": cbor.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", Region, Account, al.name))}
			if al.composite {
				composite = append(composite, item)
			} else {
				metric = append(metric, item)
			}
		}
		out := cbor.Map{"MetricAlarms": metric, "CompositeAlarms": composite}
		if next > 0 {
			out["NextToken"] = cbor.String("lab-" + strconv.Itoa(next))
		}
		cborAnswer(w, out)
	case "DescribeAlarmHistory":
		name, kind := str(in["AlarmName"]), str(in["HistoryItemType"])
		start, end := time.Time{}, time.Now().Add(100*365*24*time.Hour)
		if v, ok := in["StartDate"]; ok {
			start, _ = cbor.AsTime(v)
		}
		if v, ok := in["EndDate"]; ok {
			end, _ = cbor.AsTime(v)
		}
		var list []historyItem
		for _, h := range slices.Backward(a.history) { // ScanBy's default: newest first
			if (name == "" || h.name == name) && (kind == "" || h.kind == kind) && wanted(h.composite) && !h.at.Before(start) && !h.at.After(end) {
				list = append(list, h)
			}
		}
		page, next := pageOf(list, from, max)
		items := cbor.List{}
		for _, h := range page {
			t := "MetricAlarm"
			if h.composite {
				t = "CompositeAlarm"
			}
			items = append(items, cbor.Map{"AlarmName": cbor.String(h.name), "AlarmType": cbor.String(t), "Timestamp": timestamp(h.at),
				"HistoryItemType": cbor.String(h.kind), "HistorySummary": cbor.String(h.summary), "HistoryData": cbor.String(h.data)})
		}
		out := cbor.Map{"AlarmHistoryItems": items}
		if next > 0 {
			out["NextToken"] = cbor.String("lab-" + strconv.Itoa(next))
		}
		cborAnswer(w, out)
	default:
		cborError(w, http.StatusBadRequest, "UnknownOperationException", "the lab does not implement CloudWatch "+op)
	}
}

func pageOf[T any](list []T, from, max int) (page []T, next int) {
	from = min(from, len(list))
	to := min(from+max, len(list))
	if to < len(list) {
		next = to
	}
	return list[from:to], next
}

func str(v cbor.Value) string {
	if s, ok := v.(cbor.String); ok {
		return string(s)
	}
	return ""
}

func strs(v cbor.Value) []string {
	var out []string
	if l, ok := v.(cbor.List); ok {
		for _, item := range l {
			out = append(out, str(item))
		}
	}
	return out
}

// timestamp is a time as RPC v2 CBOR sends it: epoch seconds under tag 1.
func timestamp(t time.Time) cbor.Value {
	return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1000)}
}

func cborAnswer(w http.ResponseWriter, v cbor.Value) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	_, _ = w.Write(cbor.Encode(v))
}

// cborError writes an error of the RPC v2 CBOR protocol, with the awsQuery-compatible
// header CloudWatch also sends.
func cborError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", code+";"+fault)
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(code), "message": cbor.String(message)}))
}
