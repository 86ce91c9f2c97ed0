package awsapi

import (
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"

	"github.com/drainpipe/drainpipe/lab/dynamodb"
)

// dynamodb answers PutItem, GetItem and DeleteItem in the JSON 1.0 protocol.
func (s *Server) dynamodb(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	// DynamoDB signs every answer with the CRC32 of its body, which the SDK checks.
	reply := func(status int, v any) {
		body, _ := json.Marshal(v)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	fail := func(code, msg string) {
		reply(http.StatusBadRequest, map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": msg})
	}
	if s.count(op) {
		fail("ThrottlingException", "Rate of requests exceeds the allowed throughput.")
		return
	}
	var in struct {
		TableName                 string
		Item, Key                 dynamodb.Item
		ConditionExpression       string
		ExpressionAttributeNames  map[string]string
		ExpressionAttributeValues map[string]dynamodb.Value
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail("SerializationException", err.Error())
		return
	}
	cond := dynamodb.Condition{Expression: in.ConditionExpression, Names: in.ExpressionAttributeNames, Values: in.ExpressionAttributeValues}
	var out any = map[string]any{}
	var err error
	switch op {
	case "PutItem":
		err = s.DynamoDB.Put(in.TableName, in.Item, cond)
	case "DeleteItem":
		err = s.DynamoDB.Delete(in.TableName, in.Key, cond)
	case "GetItem":
		var item dynamodb.Item
		item, err = s.DynamoDB.Get(in.TableName, in.Key)
		if item != nil {
			out = map[string]any{"Item": item}
		}
	default:
		fail("UnknownOperationException", "the lab implements PutItem, GetItem and DeleteItem")
		return
	}
	var apiErr *dynamodb.APIError
	if errors.As(err, &apiErr) {
		fail(apiErr.Code, apiErr.Message)
		return
	}
	reply(http.StatusOK, out)
}
