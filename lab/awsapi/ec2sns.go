package awsapi

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

const (
	ec2Version   = "2016-11-15"
	ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
	snsVersion   = "2010-03-31"
	snsNamespace = "http://sns.amazonaws.com/doc/2010-03-31/"
)

// ec2 answers DescribeInstances and CreateTags in EC2's query protocol.
func (s *Server) ec2(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	action := form.Get("Action")
	if s.count(action) {
		ec2Error(w, "RequestLimitExceeded", "Request limit exceeded.")
		return
	}
	switch action {
	case "DescribeInstances":
		ids := numbered(form, "InstanceId")
		found := s.EC2.Describe(ids)
		if len(ids) > 0 && len(found) < len(ids) {
			ec2Error(w, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance IDs '%s' do not all exist", strings.Join(ids, ", ")))
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, `<DescribeInstancesResponse xmlns="%s"><requestId>%s</requestId><reservationSet>`, ec2Namespace, requestID())
		for _, inst := range found {
			code, name := 16, "running"
			if !inst.Running {
				code, name = 80, "stopped"
			}
			fmt.Fprintf(&b, `<item><reservationId>r-0lab%s</reservationId><ownerId>%s</ownerId><instancesSet><item><instanceId>%s</instanceId><instanceState><code>%d</code><name>%s</name></instanceState><privateIpAddress>%s</privateIpAddress><tagSet>`,
				inst.ID[2:], Account, inst.ID, code, name, inst.PrivateIP)
			for k, v := range inst.Tags {
				fmt.Fprintf(&b, `<item><key>%s</key><value>%s</value></item>`, escape(k), escape(v))
			}
			b.WriteString(`</tagSet></item></instancesSet></item>`)
		}
		b.WriteString(`</reservationSet></DescribeInstancesResponse>`)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(b.String()))
	case "CreateTags":
		ids := numbered(form, "ResourceId")
		tags := map[string]string{}
		for i := 1; ; i++ {
			k, ok := form[fmt.Sprintf("Tag.%d.Key", i)]
			if !ok {
				break
			}
			tags[k[0]] = form.Get(fmt.Sprintf("Tag.%d.Value", i))
		}
		if err := s.EC2.CreateTags(ids, tags); err != nil {
			ec2Error(w, "InvalidInstanceID.NotFound", err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<CreateTagsResponse xmlns="%s"><requestId>%s</requestId><return>true</return></CreateTagsResponse>`, ec2Namespace, requestID())
	default:
		ec2Error(w, "InvalidAction", "The lab implements DescribeInstances and CreateTags")
	}
}

// numbered reads EC2's lists: Name.1, Name.2, ...
func numbered(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[fmt.Sprintf("%s.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func ec2Error(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`, code, escape(message), requestID())
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Topics records what is published to SNS topics.
type Topics struct {
	mu       sync.Mutex
	messages []Message
}

// Message is one SNS Publish.
type Message struct{ TopicARN, Subject, Body string }

// Messages returns what was published, in order.
func (t *Topics) Messages() []Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Message(nil), t.messages...)
}

// sns answers Publish in the query protocol.
func (s *Server) sns(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if form.Get("Action") != "Publish" {
		elbError(w, http.StatusBadRequest, "Sender", "InvalidAction", "The lab implements SNS Publish only")
		return
	}
	if s.count("Publish") {
		elbError(w, http.StatusBadRequest, "Sender", "Throttling", "Rate exceeded")
		return
	}
	s.SNS.mu.Lock()
	s.SNS.messages = append(s.SNS.messages, Message{TopicARN: form.Get("TopicArn"), Subject: form.Get("Subject"), Body: form.Get("Message")})
	s.SNS.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="%s"><PublishResult><MessageId>%s</MessageId></PublishResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></PublishResponse>`,
		snsNamespace, requestID(), requestID())
}
