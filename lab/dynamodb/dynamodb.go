// Package dynamodb owns the lab's DynamoDB: dynalite (npm, 4.0.0), an independent
// implementation of the DynamoDB API with its whole expression grammar (conditions,
// updates, functions such as if_not_exists and size, parentheses) and its validation,
// running in memory in a Node process of its own on a loopback port. The lab's AWS
// endpoint forwards DynamoDB calls to it, so drainpipe's conditional writes, which its
// capacity guarantee rests on, are judged by a real implementation rather than the lab's.
//
// Known differences from DynamoDB (dynalite 4.0.0): no transactions (TransactWriteItems
// and TransactGetItems are unknown operations; drainpipe uses none), no time to live
// (UpdateTimeToLive is unknown and nothing expires; drainpipe compares expiry times in its
// conditions and never relies on TTL deletion), item size counted in characters rather
// than UTF-8 bytes, nesting depth not limited to 32, and
// ReturnValuesOnConditionCheckFailure ignored. It is strongly consistent for every read.
package dynamodb

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/lab/sfn"
)

//go:embed dynalite.mjs
var launcher []byte

// Server is a running dynalite.
type Server struct {
	// URL is its endpoint.
	URL string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	dir   string
}

// Start runs dynalite from the tools folder (the one with node_modules) and waits until
// it listens.
func Start(tools string) (*Server, error) {
	dir, err := os.MkdirTemp("", "drainpipe-dynalite-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "dynalite.mjs")
	if err := os.WriteFile(script, launcher, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(filepath.Join(tools, "node_modules", ".bin", "node"), script, tools)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting dynalite: %w", err)
	}
	s := &Server{cmd: cmd, stdin: stdin, dir: dir}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var msg struct{ URL string }
			if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.URL != "" {
				ready <- msg.URL
			}
		}
		close(ready)
	}()
	select {
	case url, ok := <-ready:
		if !ok {
			s.Close()
			return nil, errors.New("dynalite exited before it listened: " + stderr.String())
		}
		s.URL = url
		return s, nil
	case <-time.After(30 * time.Second):
		s.Close()
		return nil, errors.New("dynalite did not listen within 30 s: " + stderr.String())
	}
}

// Client is a DynamoDB client of this server (fake credentials, us-east-1).
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIALABLABLABLABLAB0", "lab-secret-key", "")})
}

// CreateTable creates a pay-per-request table keyed by the string attribute pk and, if
// sk is not empty, the string sort key sk, and waits until it is active.
func CreateTable(ctx context.Context, db *dynamodb.Client, name, pk, sk string) error {
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(pk), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: ddbtypes.KeyTypeHash}},
	}
	if sk != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(sk), AttributeType: ddbtypes.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(sk), KeyType: ddbtypes.KeyTypeRange})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("creating table %s: %w", name, err)
	}
	// dynalite, like DynamoDB, makes a table ACTIVE a moment after it answers.
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		return fmt.Errorf("table %s did not become active: %w", name, err)
	}
	return nil
}

// Close stops dynalite (its data goes with it).
func (s *Server) Close() {
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	_ = os.RemoveAll(s.dir)
}

// Table is a table to create: its name, its string partition key and, if not empty, its
// string sort key.
type Table struct{ Name, PartitionKey, SortKey string }

// ForTest starts a dynalite with the given tables for a test of a package that talks to
// DynamoDB, and stops it when the test ends. It finds the Node tools above the working
// directory (make tools installs them).
func ForTest(t testing.TB, tables ...Table) *dynamodb.Client {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tools, err := sfn.FindTools(wd)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(tools)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	db := srv.Client()
	for _, tb := range tables {
		if err := CreateTable(context.Background(), db, tb.Name, tb.PartitionKey, tb.SortKey); err != nil {
			t.Fatal(err)
		}
	}
	return db
}
