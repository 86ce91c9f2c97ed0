// Package dynamodb owns the lab's DynamoDB: tables of items keyed by one string
// partition key, with PutItem, GetItem and DeleteItem and their condition expressions
// (comparisons, attribute_exists, attribute_not_exists, AND, OR, expression attribute
// names and values), which is what drainpipe's rollout leases use.
package dynamodb

import (
	"fmt"
	"strings"
	"sync"
)

// Value is one attribute value in DynamoDB's JSON form: exactly one of S or N set.
type Value struct {
	S *string `json:"S,omitempty"`
	N *string `json:"N,omitempty"`
}

// Item is an item's attributes.
type Item map[string]Value

// APIError is a DynamoDB error with its real code.
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// DB holds the tables.
type DB struct {
	mu     sync.Mutex
	tables map[string]*table
}

type table struct {
	key   string
	items map[string]Item
}

// New returns a database without tables.
func New() *DB { return &DB{tables: map[string]*table{}} }

// CreateTable adds a table whose partition key is the string attribute key.
func (db *DB) CreateTable(name, key string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.tables[name] = &table{key: key, items: map[string]Item{}}
}

// Condition is a condition expression with its names and values.
type Condition struct {
	Expression string
	Names      map[string]string
	Values     map[string]Value
}

func (db *DB) table(name string) (*table, error) {
	t, ok := db.tables[name]
	if !ok {
		return nil, &APIError{Code: "ResourceNotFoundException", Message: "Requested resource not found: Table: " + name + " not found"}
	}
	return t, nil
}

func (t *table) keyOf(item Item) (string, error) {
	v, ok := item[t.key]
	if !ok || v.S == nil {
		return "", &APIError{Code: "ValidationException", Message: "One of the required keys was not given a value"}
	}
	return *v.S, nil
}

// Put writes the item if the condition holds on the item it replaces.
func (db *DB) Put(tableName string, item Item, cond Condition) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.table(tableName)
	if err != nil {
		return err
	}
	k, err := t.keyOf(item)
	if err != nil {
		return err
	}
	if err := check(t.items[k], cond); err != nil {
		return err
	}
	t.items[k] = item
	return nil
}

// Get returns the item, or nil.
func (db *DB) Get(tableName string, key Item) (Item, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.table(tableName)
	if err != nil {
		return nil, err
	}
	k, err := t.keyOf(key)
	if err != nil {
		return nil, err
	}
	return t.items[k], nil
}

// Delete removes the item if the condition holds on it.
func (db *DB) Delete(tableName string, key Item, cond Condition) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.table(tableName)
	if err != nil {
		return err
	}
	k, err := t.keyOf(key)
	if err != nil {
		return err
	}
	if err := check(t.items[k], cond); err != nil {
		return err
	}
	delete(t.items, k)
	return nil
}

// Items returns a table's items.
func (db *DB) Items(tableName string) []Item {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []Item
	if t, ok := db.tables[tableName]; ok {
		for _, it := range t.items {
			out = append(out, it)
		}
	}
	return out
}

func check(item Item, cond Condition) error {
	if strings.TrimSpace(cond.Expression) == "" {
		return nil
	}
	ok, err := eval(item, cond)
	if err != nil {
		return &APIError{Code: "ValidationException", Message: "Invalid ConditionExpression: " + err.Error()}
	}
	if !ok {
		return &APIError{Code: "ConditionalCheckFailedException", Message: "The conditional request failed"}
	}
	return nil
}

// eval evaluates OR of ANDs of terms (no parentheses beyond function calls).
func eval(item Item, cond Condition) (bool, error) {
	for _, alt := range splitWord(cond.Expression, "OR") {
		all := true
		for _, term := range splitWord(alt, "AND") {
			ok, err := term1(item, strings.TrimSpace(term), cond)
			if err != nil {
				return false, err
			}
			all = all && ok
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func splitWord(s, word string) []string {
	var parts []string
	fields := strings.Fields(s)
	var cur []string
	for _, f := range fields {
		if strings.EqualFold(f, word) {
			parts = append(parts, strings.Join(cur, " "))
			cur = nil
			continue
		}
		cur = append(cur, f)
	}
	return append(parts, strings.Join(cur, " "))
}

func term1(item Item, term string, cond Condition) (bool, error) {
	for _, fn := range []string{"attribute_not_exists", "attribute_exists"} {
		if rest, ok := strings.CutPrefix(term, fn+"("); ok {
			name, err := attrName(strings.TrimSuffix(strings.TrimSpace(rest), ")"), cond)
			if err != nil {
				return false, err
			}
			_, exists := item[name]
			return exists == (fn == "attribute_exists"), nil
		}
	}
	f := strings.Fields(term)
	if len(f) != 3 {
		return false, fmt.Errorf("cannot read %q", term)
	}
	left, lok, err := operand(item, f[0], cond)
	if err != nil {
		return false, err
	}
	right, rok, err := operand(item, f[2], cond)
	if err != nil {
		return false, err
	}
	if !lok || !rok {
		return false, nil // a comparison with a missing attribute is false
	}
	c, err := compare(left, right)
	if err != nil {
		return false, err
	}
	switch f[1] {
	case "=":
		return c == 0, nil
	case "<>":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown operator %q", f[1])
}

func attrName(tok string, cond Condition) (string, error) {
	if strings.HasPrefix(tok, "#") {
		n, ok := cond.Names[tok]
		if !ok {
			return "", fmt.Errorf("%s has no ExpressionAttributeNames entry", tok)
		}
		return n, nil
	}
	return tok, nil
}

func operand(item Item, tok string, cond Condition) (Value, bool, error) {
	if strings.HasPrefix(tok, ":") {
		v, ok := cond.Values[tok]
		if !ok {
			return Value{}, false, fmt.Errorf("%s has no ExpressionAttributeValues entry", tok)
		}
		return v, true, nil
	}
	name, err := attrName(tok, cond)
	if err != nil {
		return Value{}, false, err
	}
	v, ok := item[name]
	return v, ok, nil
}

func compare(a, b Value) (int, error) {
	switch {
	case a.N != nil && b.N != nil:
		var x, y float64
		if _, err := fmt.Sscan(*a.N, &x); err != nil {
			return 0, err
		}
		if _, err := fmt.Sscan(*b.N, &y); err != nil {
			return 0, err
		}
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	case a.S != nil && b.S != nil:
		return strings.Compare(*a.S, *b.S), nil
	}
	return 0, fmt.Errorf("comparing values of different types")
}
