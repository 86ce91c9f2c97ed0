package dynamodb

import "testing"

func s(v string) Value { return Value{S: &v} }
func n(v string) Value { return Value{N: &v} }

func TestConditionalWrites(t *testing.T) {
	db := New()
	db.CreateTable("leases", "pk")
	lease := Condition{Expression: "attribute_not_exists(#k) OR #exp < :now OR #h = :me",
		Names: map[string]string{"#k": "pk", "#exp": "expiresAt", "#h": "holder"}}
	put := func(holder, expires, now string) error {
		c := lease
		c.Values = map[string]Value{":now": n(now), ":me": s(holder)}
		return db.Put("leases", Item{"pk": s("tg"), "holder": s(holder), "expiresAt": n(expires)}, c)
	}
	if err := put("a", "100", "50"); err != nil {
		t.Fatalf("first lease: %v", err)
	}
	if err := put("b", "200", "60"); err == nil || err.(*APIError).Code != "ConditionalCheckFailedException" {
		t.Errorf("held lease taken: %v", err)
	}
	if err := put("a", "150", "60"); err != nil {
		t.Errorf("the holder renewing: %v", err)
	}
	if err := put("b", "300", "151"); err != nil {
		t.Errorf("an expired lease must be taken over: %v", err)
	}
	mine := Condition{Expression: "#h = :me", Names: map[string]string{"#h": "holder"}, Values: map[string]Value{":me": s("a")}}
	if err := db.Delete("leases", Item{"pk": s("tg")}, mine); err == nil {
		t.Error("a released the lease b holds")
	}
	mine.Values[":me"] = s("b")
	if err := db.Delete("leases", Item{"pk": s("tg")}, mine); err != nil || len(db.Items("leases")) != 0 {
		t.Errorf("b releasing: %v, %d items", err, len(db.Items("leases")))
	}
	if err := db.Put("nope", Item{"pk": s("x")}, Condition{}); err == nil || err.(*APIError).Code != "ResourceNotFoundException" {
		t.Errorf("unknown table: %v", err)
	}
	if err := db.Put("leases", Item{"pk": s("x")}, Condition{Expression: "#missing = :v", Values: map[string]Value{":v": s("x")}}); err == nil || err.(*APIError).Code != "ValidationException" {
		t.Errorf("an undefined name: %v", err)
	}
}
