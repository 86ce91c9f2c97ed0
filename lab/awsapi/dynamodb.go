package awsapi

import (
	"encoding/json"
	"hash/crc32"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// dynamodb forwards DynamoDB calls (JSON 1.0) to the lab's DynamoDB, dynalite, after the
// faults this endpoint may inject: a call that answers a fault never reaches the table.
func (s *Server) dynamodb(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	if s.DynamoDB == nil {
		dynamoError(w, http.StatusBadRequest, "UnknownOperationException", "this lab endpoint has no DynamoDB")
		return
	}
	if s.fail(w, ServiceDynamoDB, op, "", s.call(ServiceDynamoDB, op, "")) {
		return
	}
	s.dynamoProxy.ServeHTTP(w, r)
}

// dynamoError writes a DynamoDB error. DynamoDB signs every answer with the CRC32 of its
// body, which the SDK checks. Its throttling error comes from the service framework
// (com.amazon.coral.availability), the others from DynamoDB's own model.
func dynamoError(w http.ResponseWriter, status int, code, msg string) {
	namespace := "com.amazonaws.dynamodb.v20120810#"
	if code == "ThrottlingException" {
		namespace = "com.amazon.coral.availability#"
	}
	body, _ := json.Marshal(map[string]string{"__type": namespace + code, "message": msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func newDynamoProxy(endpoint string) (*httputil.ReverseProxy, error) {
	target, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	// dynalite (Node's HTTP server) closes idle connections after 5 s: reuse them for less
	// than that, or a request may go out on one it is closing.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.IdleConnTimeout = 2 * time.Second
	return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, Transport: transport}, nil
}
