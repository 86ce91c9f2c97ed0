package awsapi

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
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
	if s.fail(w, ServiceEC2, action, "", s.call(ServiceEC2, action, "")) {
		return
	}
	switch action {
	case "DescribeInstances":
		ids := numbered(form, "InstanceId")
		if bad := malformed(ids); bad != "" {
			ec2Error(w, http.StatusBadRequest, "InvalidInstanceID.Malformed", fmt.Sprintf(`Invalid id: "%s" (expecting "i-...")`, bad))
			return
		}
		found := s.EC2.Describe(ids)
		if missing := missingIDs(ids, found); len(missing) > 0 {
			ec2Error(w, http.StatusBadRequest, "InvalidInstanceID.NotFound", notFound(missing))
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, `<DescribeInstancesResponse xmlns="%s"><requestId>%s</requestId><reservationSet>`, ec2Namespace, requestID())
		for _, inst := range found {
			// The state codes of the InstanceState reference.
			code, name := 16, "running"
			switch inst.State {
			case "stopped":
				code, name = 80, "stopped"
			case "terminated":
				code, name = 48, "terminated"
			}
			fmt.Fprintf(&b, `<item><reservationId>r-0lab%s</reservationId><ownerId>%s</ownerId><instancesSet><item><instanceId>%s</instanceId><instanceState><code>%d</code><name>%s</name></instanceState>`,
				inst.ID[2:], Account, inst.ID, code, name)
			if inst.PrivateIP != "" {
				fmt.Fprintf(&b, `<privateIpAddress>%s</privateIpAddress>`, inst.PrivateIP)
			}
			if inst.Zone != "" {
				fmt.Fprintf(&b, `<placement><availabilityZone>%s</availabilityZone></placement>`, inst.Zone)
			}
			b.WriteString(`<tagSet>`)
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
		if bad := malformed(ids); bad != "" {
			ec2Error(w, http.StatusBadRequest, "InvalidID", fmt.Sprintf("The ID '%s' is not valid", bad))
			return
		}
		if missing := missingIDs(ids, s.EC2.Describe(ids)); len(missing) > 0 {
			ec2Error(w, http.StatusBadRequest, "InvalidInstanceID.NotFound", notFound(missing))
			return
		}
		if err := s.EC2.CreateTags(ids, tags); err != nil {
			ec2Error(w, http.StatusBadRequest, "InvalidInstanceID.NotFound", err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<CreateTagsResponse xmlns="%s"><requestId>%s</requestId><return>true</return></CreateTagsResponse>`, ec2Namespace, requestID())
	default:
		ec2Error(w, http.StatusBadRequest, "InvalidAction", "The lab implements DescribeInstances and CreateTags")
	}
}

// instanceID is the shape of an instance id: i- and 8 or 17 hexadecimal digits.
var instanceID = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

// malformed returns the first id that is not an instance id's shape. EC2 answers
// InvalidInstanceID.Malformed for it ("The specified instance ID is malformed. Ensure that
// you provide the full instance ID in the request, in the form i-xxxxxxxx or
// i-xxxxxxxxxxxxxxxxx", the EC2 error codes reference), and CreateTags, whose ids may
// name any resource, InvalidID.
func malformed(ids []string) string {
	for _, id := range ids {
		if !instanceID.MatchString(id) {
			return id
		}
	}
	return ""
}

// missingIDs are the ids EC2 does not know (a terminated instance stays known for a while,
// as on EC2, where it remains visible for about an hour).
func missingIDs(ids []string, found []Instance) []string {
	known := map[string]bool{}
	for _, inst := range found {
		known[inst.ID] = true
	}
	var missing []string
	for _, id := range ids {
		if !known[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

// notFound is EC2's InvalidInstanceID.NotFound message.
func notFound(ids []string) string {
	if len(ids) == 1 {
		return fmt.Sprintf("The instance ID '%s' does not exist", ids[0])
	}
	return fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(ids, ", "))
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

func ec2Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
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
		snsError(w, http.StatusBadRequest, "Sender", "InvalidAction", "The lab implements SNS Publish only")
		return
	}
	if s.fail(w, ServiceSNS, "Publish", "", s.call(ServiceSNS, "Publish", "")) {
		return
	}
	s.SNS.mu.Lock()
	s.SNS.messages = append(s.SNS.messages, Message{TopicARN: form.Get("TopicArn"), Subject: form.Get("Subject"), Body: form.Get("Message")})
	s.SNS.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="%s"><PublishResult><MessageId>%s</MessageId></PublishResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></PublishResponse>`,
		snsNamespace, requestID(), requestID())
}

// snsError writes an error of SNS's query protocol.
func snsError(w http.ResponseWriter, status int, kind, code, message string) {
	queryError(w, snsNamespace, status, kind, code, message)
}
