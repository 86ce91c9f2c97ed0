package awsapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/drainpipe/drainpipe/lab/elb"
)

const elbNamespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// elbv2 answers the ELBv2 operations drainpipe calls, in the query protocol.
func (s *Server) elbv2(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	action := form.Get("Action")
	if s.fail(w, ServiceELB, action, "", s.call(ServiceELB, action, "")) {
		return
	}
	var result any
	var err error
	switch action {
	case "DescribeTargetGroups":
		result, err = s.describeTargetGroups(form)
	case "DescribeTargetGroupAttributes":
		result, err = s.describeTargetGroupAttributes(form)
	case "DescribeTargetHealth":
		result, err = s.describeTargetHealth(form)
	case "RegisterTargets":
		err = s.ELB.RegisterTargets(form.Get("TargetGroupArn"), targetRefs(form))
		result = struct{}{}
	case "DeregisterTargets":
		err = s.ELB.DeregisterTargets(form.Get("TargetGroupArn"), targetRefs(form))
		result = struct{}{}
	default:
		elbError(w, http.StatusBadRequest, "Sender", "InvalidAction", "The action "+action+" is not valid for this web service (the lab implements what drainpipe calls).")
		return
	}
	var apiErr *elb.APIError
	if errors.As(err, &apiErr) {
		elbError(w, http.StatusBadRequest, "Sender", apiErr.Code, apiErr.Message)
		return
	}
	if err != nil {
		elbError(w, http.StatusBadRequest, "Sender", "ValidationError", err.Error())
		return
	}
	writeXML(w, action, result)
}

// members reads a query-protocol list: Name.member.1, Name.member.2, ...
func members(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func targetRefs(form url.Values) []elb.TargetRef {
	var refs []elb.TargetRef
	for i := 1; ; i++ {
		id := form.Get(fmt.Sprintf("Targets.member.%d.Id", i))
		if id == "" {
			return refs
		}
		port, _ := strconv.Atoi(form.Get(fmt.Sprintf("Targets.member.%d.Port", i)))
		refs = append(refs, elb.TargetRef{ID: id, Port: int32(port)})
	}
}

type xmlMatcher struct {
	HttpCode string `xml:"HttpCode"`
}

type xmlTargetGroup struct {
	TargetGroupArn             string     `xml:"TargetGroupArn"`
	TargetGroupName            string     `xml:"TargetGroupName"`
	Protocol                   string     `xml:"Protocol"`
	Port                       int32      `xml:"Port"`
	VpcId                      string     `xml:"VpcId"`
	HealthCheckProtocol        string     `xml:"HealthCheckProtocol"`
	HealthCheckPort            string     `xml:"HealthCheckPort"`
	HealthCheckEnabled         bool       `xml:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int        `xml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int        `xml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int        `xml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int        `xml:"UnhealthyThresholdCount"`
	HealthCheckPath            string     `xml:"HealthCheckPath"`
	Matcher                    xmlMatcher `xml:"Matcher"`
	LoadBalancerArns           []string   `xml:"LoadBalancerArns>member"`
	TargetType                 string     `xml:"TargetType"`
	ProtocolVersion            string     `xml:"ProtocolVersion"`
	IpAddressType              string     `xml:"IpAddressType"`
}

func (s *Server) describeTargetGroups(form url.Values) (any, error) {
	pageSize, _ := strconv.Atoi(form.Get("PageSize"))
	if names := members(form, "Names"); len(names) > 0 {
		var arns []string
		for _, g := range s.ELB.Groups() {
			if slices.Contains(names, g.Config().Name) {
				arns = append(arns, g.ARN)
			}
		}
		if len(arns) != len(names) {
			return nil, &elb.APIError{Code: "TargetGroupNotFound", Message: "One or more target groups not found"}
		}
		return s.describeGroups(arns, "", 0)
	}
	return s.describeGroups(members(form, "TargetGroupArns"), form.Get("Marker"), pageSize)
}

func (s *Server) describeGroups(arns []string, marker string, pageSize int) (any, error) {
	groups, next, err := s.ELB.DescribeTargetGroups(arns, marker, pageSize)
	if err != nil {
		return nil, err
	}
	var out struct {
		TargetGroups []xmlTargetGroup `xml:"TargetGroups>member"`
		NextMarker   string           `xml:"NextMarker,omitempty"`
	}
	out.TargetGroups = []xmlTargetGroup{}
	for _, g := range groups {
		c, hc := g.Config, g.Config.HealthCheck
		lbs := []string{fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/lab/0123456789abcdef", Region, Account)}
		if c.Unattached {
			lbs = nil
		}
		out.TargetGroups = append(out.TargetGroups, xmlTargetGroup{
			TargetGroupArn: g.ARN, TargetGroupName: c.Name, Protocol: c.Protocol, Port: c.Port, VpcId: "vpc-0lab0000000000000",
			HealthCheckProtocol: "HTTP", HealthCheckPort: "traffic-port", HealthCheckEnabled: true,
			HealthCheckIntervalSeconds: hc.IntervalSeconds, HealthCheckTimeoutSeconds: hc.TimeoutSeconds,
			HealthyThresholdCount: hc.HealthyThreshold, UnhealthyThresholdCount: hc.UnhealthyThreshold,
			HealthCheckPath: hc.Path, Matcher: xmlMatcher{HttpCode: hc.Matcher},
			LoadBalancerArns: lbs, TargetType: c.TargetType, ProtocolVersion: "HTTP1", IpAddressType: "ipv4",
		})
	}
	out.NextMarker = next
	return out, nil
}

func (s *Server) describeTargetGroupAttributes(form url.Values) (any, error) {
	attrs, err := s.ELB.Attributes(form.Get("TargetGroupArn"))
	if err != nil {
		return nil, err
	}
	type attribute struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	}
	var out struct {
		Attributes []attribute `xml:"Attributes>member"`
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out.Attributes = append(out.Attributes, attribute{k, attrs[k]})
	}
	return out, nil
}

func (s *Server) describeTargetHealth(form url.Values) (any, error) {
	health, err := s.ELB.DescribeTargetHealth(form.Get("TargetGroupArn"), targetRefs(form))
	if err != nil {
		return nil, err
	}
	type targetHealth struct {
		State  string `xml:"State"`
		Reason string `xml:"Reason,omitempty"`
	}
	type override struct {
		State  string `xml:"State"`
		Reason string `xml:"Reason,omitempty"`
	}
	type anomaly struct {
		Result             string `xml:"Result"`
		MitigationInEffect string `xml:"MitigationInEffect"`
	}
	type description struct {
		Target struct {
			Id   string `xml:"Id"`
			Port int32  `xml:"Port"`
		} `xml:"Target"`
		HealthCheckPort        string       `xml:"HealthCheckPort"`
		TargetHealth           targetHealth `xml:"TargetHealth"`
		AdministrativeOverride override     `xml:"AdministrativeOverride"`
		AnomalyDetection       *anomaly     `xml:"AnomalyDetection,omitempty"`
	}
	// AnomalyDetection comes only when asked for (Include AnomalyDetection or All).
	withAnomaly := false
	for key, values := range form {
		if strings.HasPrefix(key, "Include.member.") && (values[0] == "AnomalyDetection" || values[0] == "All") {
			withAnomaly = true
		}
	}
	var out struct {
		TargetHealthDescriptions []description `xml:"TargetHealthDescriptions>member"`
	}
	out.TargetHealthDescriptions = []description{}
	for _, h := range health {
		var d description
		d.Target.Id, d.Target.Port = h.ID, h.Port
		d.HealthCheckPort = strconv.Itoa(int(h.Port))
		d.TargetHealth = targetHealth{State: h.State, Reason: h.Reason}
		d.AdministrativeOverride = override{State: "no_override", Reason: "AdministrativeOverride.NoOverride"}
		if h.Override != "" {
			d.AdministrativeOverride = override{State: h.Override, Reason: "AdministrativeOverride.ZonalShiftActive"}
		}
		if withAnomaly {
			d.AnomalyDetection = &anomaly{Result: "normal", MitigationInEffect: "no"}
			if h.Anomalous {
				d.AnomalyDetection = &anomaly{Result: "anomalous", MitigationInEffect: "yes"}
			}
		}
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, d)
	}
	return out, nil
}

// writeXML writes <ActionResponse><ActionResult>result</ActionResult><ResponseMetadata/>.
func writeXML(w http.ResponseWriter, action string, result any) {
	queryResult(w, elbNamespace, action, result)
}

func elbError(w http.ResponseWriter, status int, kind, code, message string) {
	queryError(w, elbNamespace, status, kind, code, message)
}

// queryResult writes an answer of the AWS query protocol (ELBv2, SNS, Auto Scaling):
// <ActionResponse> in the service's namespace, holding <ActionResult> and the request id.
func queryResult(w http.ResponseWriter, namespace, action string, result any) {
	var body strings.Builder
	if err := xml.NewEncoder(&body).EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		queryError(w, namespace, http.StatusInternalServerError, "Receiver", "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="%s">%s<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		action, namespace, body.String(), requestID(), action)
}

// queryError writes an error of the AWS query protocol: ErrorResponse with the fault's
// type (Sender or Receiver), code and message.
func queryError(w http.ResponseWriter, namespace string, status int, kind, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		namespace, kind, code, escape(message), requestID())
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
