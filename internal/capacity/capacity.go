// Package capacity owns how much of each target group may be out of service at once,
// across every execution: a console execution, a fleet's children, two fleets. Before an
// execution deregisters its instance it reserves it, in the capacity table, in each of the
// instance's groups; it releases the reservation once the instance is healthy again (or
// back after a failure). A reservation is granted only when the group's healthy targets
// that nobody has reserved are at least the highest floor among the group's holders and
// the one asking; the conditional write that grants it is the check, so two executions
// that decide at the same moment cannot both pass.
//
// The table (partition key "pk", a string) holds:
//
//	instance#<id>  the instance's reservation: its holder (an execution ARN), since when,
//	               until when (expiresAt, epoch seconds), its registrations and floors;
//	               one per instance, so two executions never maintain one instance at once.
//	group#<arn>    the group's ledger: "version", and "out", a map from each reserved
//	               instance to its holder, floor and expiry. Every grant is an update on
//	               the condition that the version is the one read, and bumps it.
//
// A reservation expires so that a holder that died without being cleaned up (see package
// recovery) does not block its groups forever; expired entries count for nothing and are
// pruned by the next grant.
package capacity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// PartitionKey and ExpiryAttribute are the capacity table's (see package ddbitem). Fleet
// leases live in the same table.
const (
	PartitionKey    = ddbitem.CapacityKey
	ExpiryAttribute = ddbitem.CapacityExpiry
)

// Attributes of the items.
const (
	attrHolder        = "holder"
	attrSince         = "since"
	attrInstance      = "instanceId"
	attrGroup         = "targetGroupArn"
	attrRegistrations = "registrations"
	attrFloors        = "floors"
	attrFloor         = "floor"
	attrVersion       = "version"
	attrOut           = "out"
	attrPort          = "port"
	attrRestorer      = "restorer"
	attrRestoreUntil  = "restoreUntil"
)

// InstanceKey and GroupKey are the partition keys of an instance's reservation and of a
// group's ledger.
func InstanceKey(id string) string { return "instance#" + id }

// GroupKey is the partition key of a group's ledger.
func GroupKey(arn string) string { return "group#" + arn }

// DynamoDBAPI is the part of the DynamoDB client the reservations use.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Request is the input of reserve-capacity and release-capacity: the instance
// state machine's state, the execution that asks, and the table.
type Request struct {
	State     workflow.State `json:"state"`
	Execution string         `json:"execution"`
	Table     string         `json:"table"`
}

// AuditExecution is the execution that asks.
func (r Request) AuditExecution() string { return r.Execution }

func (r Request) validate(what string) error {
	var missing []string
	if r.Execution == "" {
		missing = append(missing, "execution")
	}
	if r.Table == "" {
		missing = append(missing, "table")
	}
	if r.State.InstanceID == "" || len(r.State.Registrations) == 0 {
		missing = append(missing, "state.instanceId and state.registrations")
	}
	if len(missing) > 0 {
		return faults.New(faults.InvalidInput, "%s needs %s", what, strings.Join(missing, ", "))
	}
	return nil
}

// Hold is one instance out of a group under a reservation, as the group's ledger
// records it.
type Hold struct {
	InstanceID string
	Holder     string
	Floor      int
	Since      time.Time
	ExpiresAt  time.Time
}

func (h Hold) String() string {
	return fmt.Sprintf("%s (execution %s, since %s)", h.InstanceID, h.Holder, h.Since.UTC().Format(time.RFC3339))
}

// HealthReader reads the health of every target of a group (targets.Checker does, from
// Elastic Load Balancing). An interface of drainpipe's own types, so that what only
// releases (release-capacity, the recovery) does not link the ELB client.
type HealthReader interface {
	GroupHealth(ctx context.Context, arn string) ([]workflow.TargetState, error)
}

// Reserver grants and releases reservations.
type Reserver struct {
	DB DynamoDBAPI
	// Health is needed to reserve, not to release.
	Health HealthReader
	// Now is the clock; nil means time.Now.
	Now clock.Clock
	// Attempts bounds the conditional writes per group when other executions write at the
	// same moment; zero means DefaultAttempts. Past it, ReservationConflict, which the
	// state machine retries.
	Attempts int
}

// Reserving returns the constructor of a Reserver that reserves: its DynamoDB client and
// its health reader (newHealth, for example targets.NewChecker) made from an AWS config.
func Reserving[H HealthReader](newHealth func(aws.Config) H) func(aws.Config) Reserver {
	return func(cfg aws.Config) Reserver {
		return Reserver{DB: dynamodb.NewFromConfig(cfg), Health: newHealth(cfg)}
	}
}

// NewReleaser makes a Reserver that only releases (and claims): its DynamoDB client, made
// from an AWS config.
func NewReleaser(cfg aws.Config) Reserver { return Reserver{DB: dynamodb.NewFromConfig(cfg)} }

// DefaultAttempts is how many times a grant is tried against concurrent writers (each try
// two reads and one conditional write).
const DefaultAttempts = 64

// ExpiryMargin is added to an execution's own deadlines to set how long its reservation
// lasts if nobody releases it.
const ExpiryMargin = time.Hour

// Reserve reserves the instance in each of its groups, or in none. It refuses with a
// named error when the instance is held by another execution (InstanceReserved), when a
// group has targets that are unhealthy for no reservation's sake (TargetGroupUnhealthy,
// lone executions only), when the instance is a group's last healthy target
// (LastHealthyTarget) or when a group would go below the floor of any of its holders
// (CapacityUnavailable). If the input allows waiting for capacity and the wait has not
// run out, a refusal is an answer with Reserved false, not an error: the state machine
// waits and asks again. A dry run judges and writes nothing.
func (r Reserver) Reserve(ctx context.Context, req Request) (workflow.Reservation, error) {
	if err := req.validate("reserve-capacity"); err != nil {
		return workflow.Reservation{}, err
	}
	s := req.State
	now := r.Now.Now()
	res := workflow.Reservation{Holder: req.Execution, FirstTriedAt: now.Format(time.RFC3339Nano)}
	if s.Reservation != nil && s.Reservation.FirstTriedAt != "" {
		res.FirstTriedAt = s.Reservation.FirstTriedAt
	}
	first, err := workflow.ParseTime("reservation.firstTriedAt", res.FirstTriedAt)
	if err != nil {
		return workflow.Reservation{}, faults.New(faults.InvalidInput, "%v", err)
	}
	waitUntil := first.Add(time.Duration(s.CapacityWaitSeconds) * time.Second)
	expires := now.Add(time.Duration(s.ReservationSeconds())*time.Second + ExpiryMargin)
	refused := func(err error) (workflow.Reservation, error) {
		if s.CapacityWaitSeconds > 0 && waitable(err) && now.Before(waitUntil) {
			var named *faults.Error
			errors.As(err, &named)
			res.Waiting = fmt.Sprintf("%s: %s (waiting until %s)", named.Name, named.Message, waitUntil.Format(time.RFC3339))
			return res, nil
		}
		return workflow.Reservation{}, err
	}

	if s.DryRun {
		for _, arn := range groupARNs(s.Registrations) {
			group, err := r.judge(ctx, req, arn, now)
			res.Groups = append(res.Groups, group.report)
			if err != nil {
				return refused(err)
			}
		}
		if holder, err := r.instanceHolder(ctx, req, now); err != nil {
			return workflow.Reservation{}, err
		} else if holder != "" {
			return refused(faults.New(faults.InstanceReserved, "instance %s is reserved by execution %s: another execution is maintaining it", s.InstanceID, holder))
		}
		return res, nil
	}

	if err := r.takeInstance(ctx, req, now, expires); err != nil {
		return refused(err)
	}
	var granted []string
	for _, arn := range groupARNs(s.Registrations) {
		report, err := r.grant(ctx, req, arn, now, expires)
		res.Groups = append(res.Groups, report)
		if err != nil {
			// Give back what was taken: no group keeps a partial reservation.
			if _, rerr := r.release(ctx, req, granted); rerr != nil {
				err = errors.Join(err, fmt.Errorf("giving back the partial reservation: %w", rerr))
			}
			return refused(err)
		}
		granted = append(granted, arn)
	}
	res.Reserved = true
	res.ReservedAt = now.Format(time.RFC3339Nano)
	res.ExpiresAt = expires.Format(time.RFC3339Nano)
	res.Waiting = ""
	return res, nil
}

// waitable: refusals that another execution's end can lift.
func waitable(err error) bool {
	switch faults.NameOf(err) {
	case faults.CapacityUnavailable, faults.InstanceReserved, faults.TargetGroupUnhealthy:
		return true
	}
	return false
}

// takeInstance writes the instance's reservation unless another unexpired execution
// holds it.
func (r Reserver) takeInstance(ctx context.Context, req Request, now, expires time.Time) error {
	s := req.State
	regs := make([]ddb.AttributeValue, 0, len(s.Registrations))
	for _, reg := range s.Registrations {
		regs = append(regs, &ddb.AttributeValueMemberM{Value: map[string]ddb.AttributeValue{
			attrGroup: ddbitem.S(reg.TargetGroupARN), attrPort: ddbitem.N(int64(reg.Port))}})
	}
	floors := map[string]ddb.AttributeValue{}
	for _, arn := range groupARNs(s.Registrations) {
		floors[arn] = ddbitem.N(int64(floorFor(s.Plan, arn)))
	}
	_, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &req.Table,
		Item: map[string]ddb.AttributeValue{
			PartitionKey: ddbitem.S(InstanceKey(s.InstanceID)), attrInstance: ddbitem.S(s.InstanceID), attrHolder: ddbitem.S(req.Execution),
			attrSince: ddbitem.S(now.Format(time.RFC3339Nano)), ExpiryAttribute: ddbitem.N(expires.Unix()),
			attrRegistrations: &ddb.AttributeValueMemberL{Value: regs}, attrFloors: &ddb.AttributeValueMemberM{Value: floors},
		},
		ConditionExpression:      new("attribute_not_exists(#pk) OR #holder = :me OR #expires < :now"),
		ExpressionAttributeNames: map[string]string{"#pk": PartitionKey, "#holder": attrHolder, "#expires": ExpiryAttribute},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{
			":me": ddbitem.S(req.Execution), ":now": ddbitem.N(now.Unix()),
		},
	})
	audit.Record(ctx, audit.Reserve, err, ddbitem.ConditionFailed, audit.Instance(s.InstanceID), audit.Holder(req.Execution), audit.Table(req.Table))
	if ddbitem.ConditionFailed(err) {
		holder, _ := r.instanceHolder(ctx, req, now)
		if holder == "" {
			holder = "(another execution, which has just ended)"
		}
		return faults.New(faults.InstanceReserved, "instance %s is reserved by execution %s: another execution is maintaining it", s.InstanceID, holder)
	}
	if err != nil {
		return fmt.Errorf("reserving instance %s: %w", s.InstanceID, err)
	}
	return nil
}

// instanceHolder returns the execution that holds the instance's unexpired reservation,
// if it is not this one.
func (r Reserver) instanceHolder(ctx context.Context, req Request, now time.Time) (string, error) {
	item, err := r.get(ctx, req.Table, InstanceKey(req.State.InstanceID))
	if err != nil || item == nil {
		return "", err
	}
	holder := ddbitem.String(item, attrHolder)
	if holder == req.Execution || time.Unix(ddbitem.Number(item, ExpiryAttribute), 0).Before(now) {
		return "", nil
	}
	return holder + " since " + ddbitem.String(item, attrSince), nil
}

// judged is one group's verdict and what it was based on.
type judged struct {
	report  workflow.GroupCapacity
	version int64
	exists  bool
	expired []string
}

// judge reads the group's ledger, then its targets, and decides whether the instance may
// go out of the group. It writes nothing. The order matters: a reservation granted after
// the ledger was read moves the version, so the grant's write fails and it judges again;
// one released after it (its instance perhaps registered again but not healthy yet) is
// still counted as out. Read the other way round, a target health read before another
// execution's reservation, deregistration, failure and release would count that instance
// as healthy while it is not.
func (r Reserver) judge(ctx context.Context, req Request, arn string, now time.Time) (judged, error) {
	item, err := r.get(ctx, req.Table, GroupKey(arn))
	if err != nil {
		return judged{report: workflow.GroupCapacity{TargetGroupARN: arn}}, err
	}
	if r.Health == nil {
		return judged{report: workflow.GroupCapacity{TargetGroupARN: arn}}, faults.New(faults.InternalError, "this Reserver has no health reader: it only releases")
	}
	tgs, err := r.Health.GroupHealth(ctx, arn)
	if err != nil {
		return judged{report: workflow.GroupCapacity{TargetGroupARN: arn}}, err
	}
	j := judged{exists: item != nil, version: ddbitem.Number(item, attrVersion)}
	holds := map[string]Hold{}
	for id, h := range Ledger(item) {
		switch {
		case id == req.State.InstanceID:
			// this execution's own (a retried grant), or an expired one of the instance's
			// (another unexpired holder was refused with the instance's item): the grant
			// sets it anew
		case h.ExpiresAt.Before(now):
			j.expired = append(j.expired, id)
		default:
			holds[id] = h
		}
	}
	slices.Sort(j.expired)
	j.report, err = Decide(req.State.Plan, arn, tgs, holds)
	return j, err
}

// grant reserves the instance in one group: judge, then write on the condition that the
// ledger is still the version judged; on a conflict, judge again. A refusal rests on one
// version of the ledger: if it moved meanwhile, judge again.
func (r Reserver) grant(ctx context.Context, req Request, arn string, now, expires time.Time) (workflow.GroupCapacity, error) {
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	id := req.State.InstanceID
	hold := &ddb.AttributeValueMemberM{Value: map[string]ddb.AttributeValue{
		attrHolder: ddbitem.S(req.Execution), attrFloor: ddbitem.N(int64(floorFor(req.State.Plan, arn))),
		attrSince: ddbitem.S(now.Format(time.RFC3339Nano)), ExpiryAttribute: ddbitem.N(expires.Unix()),
	}}
	report := workflow.GroupCapacity{TargetGroupARN: arn}
	for range attempts {
		j, err := r.judge(ctx, req, arn, now)
		report = j.report
		if err != nil {
			if waitable(err) && r.moved(ctx, req.Table, arn, j) {
				continue // judged on a ledger another execution has changed since: judge again
			}
			return report, err
		}
		var in dynamodb.UpdateItemInput
		if !j.exists {
			in = dynamodb.UpdateItemInput{
				UpdateExpression:         new("SET #out = :out, #version = :one, #group = :group"),
				ConditionExpression:      new("attribute_not_exists(#pk)"),
				ExpressionAttributeNames: map[string]string{"#out": attrOut, "#version": attrVersion, "#group": attrGroup, "#pk": PartitionKey},
				ExpressionAttributeValues: map[string]ddb.AttributeValue{
					":out": &ddb.AttributeValueMemberM{Value: map[string]ddb.AttributeValue{id: hold}}, ":one": ddbitem.N(1), ":group": ddbitem.S(arn),
				},
			}
		} else {
			names := map[string]string{"#out": attrOut, "#version": attrVersion, "#me": id}
			update := "SET #out.#me = :hold, #version = :next"
			var removes []string
			for i, x := range j.expired {
				k := "#x" + strconv.Itoa(i)
				names[k] = x
				removes = append(removes, "#out."+k)
			}
			if len(removes) > 0 {
				update += " REMOVE " + strings.Join(removes, ", ")
			}
			in = dynamodb.UpdateItemInput{
				UpdateExpression:         &update,
				ConditionExpression:      new("#version = :version"),
				ExpressionAttributeNames: names,
				ExpressionAttributeValues: map[string]ddb.AttributeValue{
					":hold": hold, ":version": ddbitem.N(j.version), ":next": ddbitem.N(j.version + 1),
				},
			}
		}
		in.TableName = &req.Table
		in.Key = key(GroupKey(arn))
		_, err = r.DB.UpdateItem(ctx, &in)
		audit.Record(ctx, audit.ReserveGroup, err, ddbitem.ConditionFailed, audit.Instance(id), audit.Group(arn), audit.Holder(req.Execution), audit.Table(req.Table))
		if ddbitem.ConditionFailed(err) {
			continue // another execution changed the ledger since it was read: judge again
		}
		if err != nil {
			return report, fmt.Errorf("reserving %s in target group %s: %w", id, arn, err)
		}
		return report, nil
	}
	return report, faults.New(faults.ReservationConflict, "target group %s: %d attempts to reserve %s met concurrent reservations; retrying", workflow.GroupName(arn), attempts, id)
}

// moved reports whether the group's ledger has changed since it was judged, so that a
// refusal always rests on one version of it (and names the holders that refused it).
func (r Reserver) moved(ctx context.Context, table, arn string, j judged) bool {
	item, err := r.get(ctx, table, GroupKey(arn))
	if err != nil {
		return false
	}
	return (item != nil) != j.exists || ddbitem.Number(item, attrVersion) != j.version
}

// Release gives back the execution's reservation of the instance: its entry in every
// group, then the instance's. It releases nothing another execution holds, and releasing
// what is already released succeeds.
func (r Reserver) Release(ctx context.Context, req Request) (workflow.Released, error) {
	if err := req.validate("release-capacity"); err != nil {
		return workflow.Released{}, err
	}
	return r.release(ctx, req, nil)
}

// release gives back the groups (those of the instance's reservation item, those of the
// state, and extra) and then the instance.
func (r Reserver) release(ctx context.Context, req Request, extra []string) (workflow.Released, error) {
	id := req.State.InstanceID
	item, err := r.get(ctx, req.Table, InstanceKey(id))
	if err != nil {
		return workflow.Released{}, err
	}
	groups := append(groupARNs(req.State.Registrations), extra...)
	if ddbitem.String(item, attrHolder) == req.Execution {
		for _, reg := range registrationsOf(item) {
			groups = append(groups, reg.TargetGroupARN)
		}
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	out := workflow.Released{At: r.Now.Now().Format(time.RFC3339Nano)}
	var errs []error
	for _, arn := range groups {
		ok, err := r.releaseGroup(ctx, req, arn)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			out.Groups = append(out.Groups, arn)
		}
	}
	if len(errs) > 0 {
		return workflow.Released{}, errors.Join(errs...) // keep the instance's item: the groups still hold it
	}
	_, err = r.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &req.Table,
		Key:                       key(InstanceKey(id)),
		ConditionExpression:       new("#holder = :me"),
		ExpressionAttributeNames:  map[string]string{"#holder": attrHolder},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":me": ddbitem.S(req.Execution)},
	})
	audit.Record(ctx, audit.Release, err, ddbitem.ConditionFailed, audit.Instance(id), audit.Holder(req.Execution), audit.Table(req.Table))
	switch {
	case ddbitem.ConditionFailed(err): // not ours (or gone)
	case err != nil:
		return workflow.Released{}, fmt.Errorf("releasing instance %s: %w", id, err)
	default:
		out.Instance = true
	}
	return out, nil
}

// releaseGroup removes the instance's entry from the group's ledger if this execution
// holds it. Removing an entry only frees capacity, so it does not change the version: a
// grant judged before the removal is still safe to write.
func (r Reserver) releaseGroup(ctx context.Context, req Request, arn string) (bool, error) {
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &req.Table,
		Key:                       key(GroupKey(arn)),
		UpdateExpression:          new("REMOVE #out.#me"),
		ConditionExpression:       new("#out.#me.#holder = :me"),
		ExpressionAttributeNames:  map[string]string{"#out": attrOut, "#me": req.State.InstanceID, "#holder": attrHolder},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":me": ddbitem.S(req.Execution)},
	})
	audit.Record(ctx, audit.ReleaseGroup, err, ddbitem.ConditionFailed, audit.Instance(req.State.InstanceID), audit.Group(arn), audit.Holder(req.Execution), audit.Table(req.Table))
	switch {
	case ddbitem.ConditionFailed(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("releasing %s in target group %s: %w", req.State.InstanceID, arn, err)
	}
	return true, nil
}

func (r Reserver) get(ctx context.Context, table, pk string) (map[string]ddb.AttributeValue, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key(pk), ConsistentRead: new(true)})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", pk, err)
	}
	return out.Item, nil
}

// ownFloorSetter marks a floor set by the group's own thresholds, not by an execution.
const ownFloorSetter = "the group itself"

// floorFor is the number of healthy targets the execution must leave in the group: the
// floor its input sets (fleet rollouts set one per group), or else one, unless the input
// allows taking out the last healthy target.
func floorFor(p workflow.Plan, arn string) int {
	if n, ok := p.MinHealthy(arn); ok {
		return n
	}
	if p.AllowLastTarget {
		return 0
	}
	return 1
}

// Decide judges whether the instance may go out of the group, given the group's targets
// now and the other executions' unexpired holds on it. Only a serving target counts as
// capacity: healthy, with no zonal shift away from it and not found anomalous. A group
// without a floor from the input (a lone execution) must have every target serving that
// nobody holds; the serving targets nobody holds, this instance aside, must be at least
// the highest floor among the holders and this execution.
func Decide(p workflow.Plan, arn string, tgs []workflow.TargetState, holds map[string]Hold) (workflow.GroupCapacity, error) {
	report := workflow.GroupCapacity{TargetGroupARN: arn, Targets: len(tgs), Floor: floorFor(p, arn)}
	_, hasFloor := p.MinHealthy(arn)
	var unexpected []string
	mine := false
	for _, t := range tgs {
		_, held := holds[t.ID]
		switch {
		case t.ID == p.InstanceID:
			mine = true
		case held:
		case t.Serving():
			report.Remaining++
		default:
			unexpected = append(unexpected, t.String())
		}
		if t.Serving() {
			report.Healthy++
		}
	}
	setter := ""
	for _, id := range slices.Sorted(maps.Keys(holds)) {
		h := holds[id]
		report.HeldBy = append(report.HeldBy, h.String())
		if h.Floor > report.Floor {
			report.Floor, setter = h.Floor, h.Holder
		}
	}
	// The group's own target_group_health thresholds hold for every execution, unless
	// this one accepts an outage of the group (allowLastTarget).
	own := 0
	if i := slices.IndexFunc(p.TargetGroups, func(g workflow.TargetGroup) bool { return g.ARN == arn }); i >= 0 && !p.AllowLastTarget {
		own = p.TargetGroups[i].OwnFloor(len(tgs))
	}
	if own > report.Floor {
		report.Floor, setter = own, ownFloorSetter
	}
	name := workflow.GroupName(arn)
	switch {
	case !mine:
		return report, faults.New(faults.InstanceNotInTargetGroup, "instance %s is not a registered target of target group %s any more", p.InstanceID, name)
	case !hasFloor && len(unexpected) > 0:
		return report, faults.New(faults.TargetGroupUnhealthy, "target group %s has %d target(s) that are not healthy and that no drainpipe execution has taken out: %s",
			name, len(unexpected), strings.Join(unexpected, "; "))
	case report.Remaining >= report.Floor:
		return report, nil
	case setter == "" && report.Remaining == 0 && len(holds) == 0:
		return report, faults.New(faults.LastHealthyTarget,
			"taking %s out of target group %s leaves it with no healthy target; add capacity first, or set \"allowLastTarget\": true to accept an outage of that group",
			p.InstanceID, name)
	}
	why := fmt.Sprintf("its floor of %d", report.Floor)
	switch setter {
	case "":
	case ownFloorSetter:
		why = fmt.Sprintf("the group's own target_group_health threshold of %d healthy targets (below it, ALB fails open or takes the zone out of DNS)", report.Floor)
	default:
		why = fmt.Sprintf("the floor of %d that execution %s holds it to", report.Floor, setter)
	}
	out := "nobody else is out"
	if len(report.HeldBy) > 0 {
		out = "out now: " + strings.Join(report.HeldBy, ", ")
	}
	return report, faults.New(faults.CapacityUnavailable, "taking %s out of target group %s leaves %d healthy target(s), below %s (%s)",
		p.InstanceID, name, report.Remaining, why, out)
}

// Ledger reads a group ledger item's entries: who holds which instance out.
func Ledger(item map[string]ddb.AttributeValue) map[string]Hold {
	out := map[string]Hold{}
	m, _ := item[attrOut].(*ddb.AttributeValueMemberM)
	if m == nil {
		return out
	}
	for id, v := range m.Value {
		e, _ := v.(*ddb.AttributeValueMemberM)
		if e == nil {
			continue
		}
		since, _ := time.Parse(time.RFC3339Nano, ddbitem.String(e.Value, attrSince))
		out[id] = Hold{InstanceID: id, Holder: ddbitem.String(e.Value, attrHolder), Floor: int(ddbitem.Number(e.Value, attrFloor)),
			Since: since, ExpiresAt: time.Unix(ddbitem.Number(e.Value, ExpiryAttribute), 0)}
	}
	return out
}

// RestoreClaimSeconds is how long a restore's claim on a reservation lasts (see Claim).
const RestoreClaimSeconds = 300

// Claim makes the restorer the only one to put the instance back for the ended execution
// that holds its reservation: two restores of one execution (its own event and its fleet's)
// must not both act, or the slower could register the instance again after the faster has
// released it and a new execution has taken it out. A claim lasts RestoreClaimSeconds; the
// same restorer (a retried call) claims again. ok is false when the execution holds no
// reservation of the instance, or another restore has claimed it.
func (r Reserver) Claim(ctx context.Context, table, instanceID, holder, restorer string) (Reservation, bool, error) {
	now := r.Now.Now()
	out, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &table,
		Key:                      key(InstanceKey(instanceID)),
		UpdateExpression:         new("SET #restorer = :me, #until = :until"),
		ConditionExpression:      new("#holder = :holder AND (attribute_not_exists(#restorer) OR #restorer = :me OR #until < :now)"),
		ExpressionAttributeNames: map[string]string{"#holder": attrHolder, "#restorer": attrRestorer, "#until": attrRestoreUntil},
		ExpressionAttributeValues: map[string]ddb.AttributeValue{":holder": ddbitem.S(holder), ":me": ddbitem.S(restorer),
			":now": ddbitem.N(now.Unix()), ":until": ddbitem.N(now.Add(RestoreClaimSeconds * time.Second).Unix())},
		ReturnValues: ddb.ReturnValueAllNew,
	})
	audit.Record(ctx, audit.ClaimRestore, err, ddbitem.ConditionFailed, audit.Instance(instanceID), audit.Holder(holder), audit.Table(table))
	if ddbitem.ConditionFailed(err) {
		return Reservation{}, false, nil
	}
	if err != nil {
		return Reservation{}, false, fmt.Errorf("claiming the reservation of %s: %w", instanceID, err)
	}
	res, ok := ReservationOf(out.Attributes)
	return res, ok, nil
}

// Reservation is an instance's reservation as the table holds it.
type Reservation struct {
	InstanceID    string
	Holder        string
	Since         time.Time
	ExpiresAt     time.Time
	Registrations []workflow.Registration
}

// ReservationOf reads an instance reservation item; ok is false for no item.
func ReservationOf(item map[string]ddb.AttributeValue) (Reservation, bool) {
	if item == nil {
		return Reservation{}, false
	}
	since, _ := time.Parse(time.RFC3339Nano, ddbitem.String(item, attrSince))
	return Reservation{InstanceID: ddbitem.String(item, attrInstance), Holder: ddbitem.String(item, attrHolder), Since: since,
		ExpiresAt: time.Unix(ddbitem.Number(item, ExpiryAttribute), 0), Registrations: registrationsOf(item)}, true
}

// registrationsOf reads an instance reservation's registrations.
func registrationsOf(item map[string]ddb.AttributeValue) []workflow.Registration {
	l, _ := item[attrRegistrations].(*ddb.AttributeValueMemberL)
	if l == nil {
		return nil
	}
	var regs []workflow.Registration
	for _, v := range l.Value {
		if m, ok := v.(*ddb.AttributeValueMemberM); ok {
			regs = append(regs, workflow.Registration{TargetGroupARN: ddbitem.String(m.Value, attrGroup), Port: int32(ddbitem.Number(m.Value, attrPort))})
		}
	}
	return regs
}

// groupARNs lists the distinct groups of the registrations, sorted: every execution
// reserves its groups in the same order.
func groupARNs(regs []workflow.Registration) []string {
	var arns []string
	for _, r := range regs {
		arns = append(arns, r.TargetGroupARN)
	}
	slices.Sort(arns)
	return slices.Compact(arns)
}

func key(pk string) map[string]ddb.AttributeValue {
	return map[string]ddb.AttributeValue{PartitionKey: ddbitem.S(pk)}
}
