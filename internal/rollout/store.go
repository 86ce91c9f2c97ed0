package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/waveplan"
)

// The rollouts table: partition key PartitionKey (the rollout's ID), sort key SortKey.
// A rollout's items:
//
//	meta           its input, its groups' budgets, counts, where it is and who drives it
//	wave#000001    a wave's instances and, once it ran, their results (one item a wave)
//	skipped#00001  instances left out and why, SkipsPerItem to an item
//
// Each item expires (ExpiryAttribute) RecordDays after the rollout started.
const (
	PartitionKey    = "rollout"
	SortKey         = "item"
	ExpiryAttribute = "expiresAt"
	RecordDays      = 90
	SkipsPerItem    = 1000
)

// Rollout statuses, as the meta item records them: running, then its outcome.
const (
	StatusRunning = "running"
	// OutcomeCompleted: every wave ran. OutcomeAborted: the error budget was spent.
	// OutcomeStopped: the window closed with work left. OutcomeDryRun: planned only.
	OutcomeCompleted = "completed"
	OutcomeAborted   = "aborted"
	OutcomeStopped   = "stopped"
	OutcomeDryRun    = "dry-run"
)

// StoreAPI is the part of the DynamoDB client the rollouts table uses.
type StoreAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Store reads and writes one table of rollouts.
type Store struct {
	DB    StoreAPI
	Table string
}

// Meta is a rollout's meta item.
type Meta struct {
	ID, Name  string
	Input     Input
	StartedAt time.Time
	// Groups are the budgets of the plan.
	Groups                  []waveplan.Group
	Waves, Planned, Skipped int
	// Next is the next wave to run; Succeeded and Failed count the results so far.
	Next, Succeeded, Failed int
	Status, StopReason      string
	// Driver is the execution running the rollout, Part its number.
	Driver string
	Part   int
}

// WaveRecord is a wave's item.
type WaveRecord struct {
	Index       int        `json:"-"`
	Instances   []WaveItem `json:"instances"`
	BelowBudget bool       `json:"belowBudget,omitempty"`
	Zone        string     `json:"zone,omitempty"`
	// Results are set once the wave ran.
	Results []Result `json:"results,omitempty"`
}

// WaveItem is an instance of a wave and its groups (indexes into Meta.Groups).
type WaveItem struct {
	InstanceID string `json:"i"`
	Groups     []int  `json:"g"`
}

func waveKey(i int) string { return fmt.Sprintf("wave#%06d", i+1) }

func skipKey(i int) string { return fmt.Sprintf("skipped#%05d", i+1) }

func (s Store) key(id, item string) map[string]ddb.AttributeValue {
	return map[string]ddb.AttributeValue{PartitionKey: ddbitem.S(id), SortKey: ddbitem.S(item)}
}

// Create writes a new rollout: its waves, its skips, then its meta item, once. If the
// rollout's meta item is there already, written by the same execution (a retried call),
// Create returns it and writes nothing; written by another, it fails.
func (s Store) Create(ctx context.Context, m Meta, waves []WaveRecord, skips []Skip) (Meta, error) {
	if old, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: s.key(m.ID, "meta"), ConsistentRead: new(true)}); err != nil {
		return Meta{}, fmt.Errorf("reading rollout %s: %w", m.ID, err)
	} else if old.Item != nil {
		if ddbitem.String(old.Item, "driver") != m.Driver {
			return Meta{}, faults.New(faults.InvalidInput, "rollout %s was planned already", m.ID)
		}
		return metaOf(old.Item)
	}
	expires := m.StartedAt.Add(RecordDays * 24 * time.Hour).Unix()
	var items []map[string]ddb.AttributeValue
	for i, w := range waves {
		body, err := json.Marshal(w)
		if err != nil {
			return Meta{}, err
		}
		item := s.key(m.ID, waveKey(i))
		item["wave"] = ddbitem.S(string(body))
		item[ExpiryAttribute] = ddbitem.N(expires)
		items = append(items, item)
	}
	for i := 0; i*SkipsPerItem < len(skips); i++ {
		body, _ := json.Marshal(skips[i*SkipsPerItem : min((i+1)*SkipsPerItem, len(skips))])
		item := s.key(m.ID, skipKey(i))
		item["skips"] = ddbitem.S(string(body))
		item[ExpiryAttribute] = ddbitem.N(expires)
		items = append(items, item)
	}
	if err := s.batchWrite(ctx, items); err != nil {
		return Meta{}, err
	}
	meta, err := s.metaItem(m, expires)
	if err != nil {
		return Meta{}, err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: meta,
		ConditionExpression:      new("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": PartitionKey}})
	if ddbitem.ConditionFailed(err) { // written meanwhile: by this execution (a retried call), or not
		got, err := s.Meta(ctx, m.ID)
		if err != nil || got.Driver != m.Driver {
			return Meta{}, faults.New(faults.InvalidInput, "rollout %s was planned already", m.ID)
		}
		return got, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("writing rollout %s: %w", m.ID, err)
	}
	return m, nil
}

func (s Store) metaItem(m Meta, expires int64) (map[string]ddb.AttributeValue, error) {
	input, err := json.Marshal(m.Input)
	if err != nil {
		return nil, err
	}
	groups, err := json.Marshal(m.Groups)
	if err != nil {
		return nil, err
	}
	item := s.key(m.ID, "meta")
	for k, v := range map[string]string{"name": m.Name, "input": string(input), "groups": string(groups),
		"startedAt": m.StartedAt.UTC().Format(time.RFC3339Nano), "status": m.Status, "driver": m.Driver} {
		item[k] = ddbitem.S(v)
	}
	if m.StopReason != "" {
		item["stopReason"] = ddbitem.S(m.StopReason)
	}
	for k, v := range map[string]int{"waves": m.Waves, "planned": m.Planned, "skipped": m.Skipped, "next": m.Next,
		"succeeded": m.Succeeded, "failed": m.Failed, "part": m.Part} {
		item[k] = ddbitem.N(int64(v))
	}
	item[ExpiryAttribute] = ddbitem.N(expires)
	return item, nil
}

// batchWrite writes the items 25 at a time (BatchWriteItem's limit), again and again for
// what DynamoDB leaves unprocessed.
func (s Store) batchWrite(ctx context.Context, items []map[string]ddb.AttributeValue) error {
	for start := 0; start < len(items); start += 25 {
		var reqs []ddb.WriteRequest
		for _, it := range items[start:min(start+25, len(items))] {
			reqs = append(reqs, ddb.WriteRequest{PutRequest: &ddb.PutRequest{Item: it}})
		}
		pending := map[string][]ddb.WriteRequest{s.Table: reqs}
		for attempt := 0; len(pending[s.Table]) > 0; attempt++ {
			if attempt == 10 {
				return faults.New(faults.TransientAPIError, "writing the rollout's plan: DynamoDB left %d items unprocessed ten times", len(pending[s.Table]))
			}
			out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("writing the rollout's plan: %w", err)
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// Meta reads a rollout's meta item.
func (s Store) Meta(ctx context.Context, id string) (Meta, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: s.key(id, "meta"), ConsistentRead: new(true)})
	if err != nil {
		return Meta{}, fmt.Errorf("reading rollout %s: %w", id, err)
	}
	if out.Item == nil {
		return Meta{}, faults.New(faults.InvalidInput, "rollout %s is not in table %s", id, s.Table)
	}
	return metaOf(out.Item)
}

func metaOf(item map[string]ddb.AttributeValue) (Meta, error) {
	m := Meta{ID: ddbitem.String(item, PartitionKey), Name: ddbitem.String(item, "name"), Status: ddbitem.String(item, "status"),
		StopReason: ddbitem.String(item, "stopReason"), Driver: ddbitem.String(item, "driver")}
	if err := json.Unmarshal([]byte(ddbitem.String(item, "input")), &m.Input); err != nil {
		return Meta{}, fmt.Errorf("rollout %s: its input is not readable: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(ddbitem.String(item, "groups")), &m.Groups); err != nil {
		return Meta{}, fmt.Errorf("rollout %s: its groups are not readable: %w", m.ID, err)
	}
	m.StartedAt, _ = time.Parse(time.RFC3339Nano, ddbitem.String(item, "startedAt"))
	for k, p := range map[string]*int{"waves": &m.Waves, "planned": &m.Planned, "skipped": &m.Skipped, "next": &m.Next,
		"succeeded": &m.Succeeded, "failed": &m.Failed, "part": &m.Part} {
		*p = int(ddbitem.Number(item, k))
	}
	return m, nil
}

// Wave reads one wave.
func (s Store) Wave(ctx context.Context, id string, index int) (WaveRecord, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: s.key(id, waveKey(index)), ConsistentRead: new(true)})
	if err != nil {
		return WaveRecord{}, fmt.Errorf("reading wave %d of rollout %s: %w", index+1, id, err)
	}
	if out.Item == nil {
		return WaveRecord{}, faults.New(faults.InvalidInput, "rollout %s has no wave %d", id, index+1)
	}
	return waveOf(out.Item, index)
}

func waveOf(item map[string]ddb.AttributeValue, index int) (WaveRecord, error) {
	var w WaveRecord
	if err := json.Unmarshal([]byte(ddbitem.String(item, "wave")), &w); err != nil {
		return WaveRecord{}, fmt.Errorf("wave %d is not readable: %w", index+1, err)
	}
	w.Index = index
	return w, nil
}

// RecordWave stores a wave's results and moves the rollout on: it adds the counts and
// sets the next wave, on the condition that the rollout is still at this wave, so that
// recording a wave twice (a retried call) counts it once. It returns the meta item as it
// is after the wave.
func (s Store) RecordWave(ctx context.Context, id string, w WaveRecord, succeeded, failed int) (Meta, error) {
	body, err := json.Marshal(w)
	if err != nil {
		return Meta{}, err
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: s.key(id, waveKey(w.Index)),
		UpdateExpression: new("SET #wave = :wave"), ExpressionAttributeNames: map[string]string{"#wave": "wave"},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":wave": ddbitem.S(string(body))}})
	if err != nil {
		return Meta{}, fmt.Errorf("recording wave %d of rollout %s: %w", w.Index+1, id, err)
	}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: s.key(id, "meta"),
		UpdateExpression:         new("SET #next = :next ADD #succeeded :succeeded, #failed :failed"),
		ConditionExpression:      new("#next = :this"),
		ExpressionAttributeNames: map[string]string{"#next": "next", "#succeeded": "succeeded", "#failed": "failed"},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":next": ddbitem.N(int64(w.Index + 1)), ":this": ddbitem.N(int64(w.Index)),
			":succeeded": ddbitem.N(int64(succeeded)), ":failed": ddbitem.N(int64(failed))},
		ReturnValues: ddb.ReturnValueAllNew})
	if ddbitem.ConditionFailed(err) {
		return s.Meta(ctx, id) // recorded already
	}
	if err != nil {
		return Meta{}, fmt.Errorf("moving rollout %s past wave %d: %w", id, w.Index+1, err)
	}
	return metaOf(out.Attributes)
}

// Claim makes the execution the rollout's driver, taking over from the execution that
// started it (a continuation), and records its part. A rollout that has ended (its
// execution stopped, say) cannot be taken over.
func (s Store) Claim(ctx context.Context, id, from, to string, part int) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: s.key(id, "meta"),
		UpdateExpression:         new("SET #driver = :to, #part = :part"),
		ConditionExpression:      new("(#driver = :from OR #driver = :to) AND #status = :running"),
		ExpressionAttributeNames: map[string]string{"#driver": "driver", "#part": "part", "#status": "status"},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":from": ddbitem.S(from), ":to": ddbitem.S(to), ":part": ddbitem.N(int64(part)),
			":running": ddbitem.S(StatusRunning)}})
	if ddbitem.ConditionFailed(err) {
		return faults.New(faults.RolloutInProgress, "rollout %s is not driven by %s any more, or has ended: it cannot be continued", id, from)
	}
	if err != nil {
		return fmt.Errorf("continuing rollout %s: %w", id, err)
	}
	return nil
}

// End records the end of a rollout whose execution ended without finishing it (stopped,
// timed out, failed), unless an outcome was recorded already.
func (s Store) End(ctx context.Context, id, status, reason string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: s.key(id, "meta"),
		UpdateExpression:         new("SET #status = :status, #reason = :reason"),
		ConditionExpression:      new("#status = :running"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#reason": "stopReason"},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":status": ddbitem.S(status), ":reason": ddbitem.S(reason),
			":running": ddbitem.S(StatusRunning)}})
	if err != nil && !ddbitem.ConditionFailed(err) {
		return fmt.Errorf("recording the end of rollout %s: %w", id, err)
	}
	return nil
}

// Finish records the rollout's outcome.
func (s Store) Finish(ctx context.Context, id, status, reason string) error {
	update := "SET #status = :status"
	values := map[string]ddb.AttributeValue{":status": ddbitem.S(status)}
	names := map[string]string{"#status": "status"}
	if reason != "" {
		update += ", #reason = :reason"
		names["#reason"] = "stopReason"
		values[":reason"] = ddbitem.S(reason)
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: s.key(id, "meta"),
		UpdateExpression: &update, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	if err != nil {
		return fmt.Errorf("recording the outcome of rollout %s: %w", id, err)
	}
	return nil
}

// All reads the whole rollout: meta, waves in order, skips.
func (s Store) All(ctx context.Context, id string) (Meta, []WaveRecord, []Skip, error) {
	var meta *Meta
	var waves []WaveRecord
	var skips []Skip
	pages := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: &s.Table, ConsistentRead: new(true),
		KeyConditionExpression:    new("#pk = :id"),
		ExpressionAttributeNames:  map[string]string{"#pk": PartitionKey},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":id": ddbitem.S(id)}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return Meta{}, nil, nil, fmt.Errorf("reading rollout %s: %w", id, err)
		}
		for _, item := range page.Items {
			switch k := ddbitem.String(item, SortKey); {
			case k == "meta":
				m, err := metaOf(item)
				if err != nil {
					return Meta{}, nil, nil, err
				}
				meta = &m
			case len(k) > 5 && k[:5] == "wave#":
				n, _ := strconv.Atoi(k[5:])
				w, err := waveOf(item, n-1)
				if err != nil {
					return Meta{}, nil, nil, err
				}
				waves = append(waves, w)
			case len(k) > 8 && k[:8] == "skipped#":
				var chunk []Skip
				if err := json.Unmarshal([]byte(ddbitem.String(item, "skips")), &chunk); err != nil {
					return Meta{}, nil, nil, fmt.Errorf("rollout %s: skips not readable: %w", id, err)
				}
				skips = append(skips, chunk...)
			}
		}
	}
	if meta == nil {
		return Meta{}, nil, nil, notRecorded{faults.New(faults.InvalidInput, "rollout %s is not in table %s", id, s.Table)}
	}
	// A plan retried before its meta item was written may have left more waves or skips
	// than the plan that counts: the meta item says how many are its.
	waves = slices.DeleteFunc(waves, func(w WaveRecord) bool { return w.Index >= meta.Waves })
	if len(skips) > meta.Skipped {
		skips = skips[:meta.Skipped]
	}
	return *meta, waves, skips, nil
}

// ErrNotRecorded is in the chain of All's error when the table holds no rollout of that
// id: it was not planned (yet), or its record expired.
var ErrNotRecorded = errors.New("rollout not recorded")

type notRecorded struct{ error }

func (e notRecorded) Is(target error) bool { return target == ErrNotRecorded }
func (e notRecorded) Unwrap() error        { return e.error }
