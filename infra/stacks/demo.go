package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// DemoStackProps configure the DrainpipeDemo stack.
type DemoStackProps struct {
	awscdk.StackProps
	// InstanceTagKey and InstanceTagValue mark the instances as drainpipe's to maintain.
	InstanceTagKey, InstanceTagValue string
	// AllowedCIDR may reach the load balancer on port 80 (the post: your own address).
	AllowedCIDR string
}

// helloWorld is the post's service: it answers "Hello, World! From <host>" on port 8080
// and starts at every boot (the post used an @reboot cron entry; systemd does the same).
const helloWorld = `#!/bin/bash
set -euo pipefail
cat > /usr/local/bin/hello-world.py <<'PY'
import http.server, socket
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("Hello, World! From %s\n" % socket.gethostname()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", 8080), Hello).serve_forever()
PY
cat > /etc/systemd/system/hello-world.service <<'UNIT'
[Unit]
Description=hello world on 8080
After=network-online.target
[Service]
ExecStart=/usr/bin/python3 /usr/local/bin/hello-world.py
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now hello-world.service
`

// NewDemoStack recreates the post's environment so drainpipe can be tried on AWS: three
// instances running the hello-world service, managed by SSM, behind an ALB listening on
// port 80 and forwarding to a target group on 8080 with the post's health check
// (interval 6 s, thresholds 2 and 2), with the post's security groups.
func NewDemoStack(scope constructs.Construct, id string, props *DemoStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24),
		}},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{"all": {TrafficType: awsec2.FlowLogTrafficType_REJECT}},
	})
	albSG := awsec2.NewSecurityGroup(stack, jsii.String("HelloWorldAlb"), &awsec2.SecurityGroupProps{
		Vpc: vpc, Description: jsii.String("HelloWorldALB: port 80 in, 8080 out to the instances"), AllowAllOutbound: jsii.Bool(false),
	})
	instanceSG := awsec2.NewSecurityGroup(stack, jsii.String("VmBase"), &awsec2.SecurityGroupProps{
		Vpc: vpc, Description: jsii.String("instances: 8080 from the load balancer; out for SSM and packages"), AllowAllOutbound: jsii.Bool(true),
	})
	albSG.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(props.AllowedCIDR)), awsec2.Port_Tcp(jsii.Number(80)), jsii.String("users"), nil)
	albSG.AddEgressRule(instanceSG, awsec2.Port_Tcp(jsii.Number(8080)), jsii.String("to the instances"), nil)
	instanceSG.AddIngressRule(albSG, awsec2.Port_Tcp(jsii.Number(8080)), jsii.String("from the load balancer"), nil)

	role := awsiam.NewRole(stack, jsii.String("InstanceRole"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore"))},
	})
	userData := awsec2.UserData_ForLinux(nil)
	userData.AddCommands(jsii.String(helloWorld))
	var targets []awselasticloadbalancingv2.IApplicationLoadBalancerTarget
	for i := range 3 {
		inst := awsec2.NewInstance(stack, jsii.String(fmt.Sprintf("HelloWorld%d", i+1)), &awsec2.InstanceProps{
			Vpc:                      vpc,
			VpcSubnets:               &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
			InstanceType:             awsec2.NewInstanceType(jsii.String("t4g.nano")),
			MachineImage:             awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{CpuType: awsec2.AmazonLinuxCpuType_ARM_64}),
			SecurityGroup:            instanceSG,
			Role:                     role,
			UserData:                 userData,
			RequireImdsv2:            jsii.Bool(true),
			DetailedMonitoring:       jsii.Bool(true),
			AssociatePublicIpAddress: jsii.Bool(true),
			BlockDevices: &[]*awsec2.BlockDevice{{
				DeviceName: jsii.String("/dev/xvda"),
				Volume:     awsec2.BlockDeviceVolume_Ebs(jsii.Number(8), &awsec2.EbsDeviceOptions{Encrypted: jsii.Bool(true)}),
			}},
		})
		awscdk.Tags_Of(inst).Add(jsii.String(props.InstanceTagKey), jsii.String(props.InstanceTagValue), nil)
		targets = append(targets, awselasticloadbalancingv2targets.NewInstanceTarget(inst, jsii.Number(8080)))
		cdknag.NagSuppressions_AddResourceSuppressions(inst, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-EC29"), Reason: jsii.String("demo instances: drainpipe reboots them in place; they are disposable and not in an Auto Scaling group on purpose"),
		}}, nil)
	}
	alb := awselasticloadbalancingv2.NewApplicationLoadBalancer(stack, jsii.String("HelloWorldAlbLb"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc: vpc, InternetFacing: jsii.Bool(true), SecurityGroup: albSG,
	})
	listener := alb.AddListener(jsii.String("Http"), &awselasticloadbalancingv2.BaseApplicationListenerProps{Port: jsii.Number(80), Open: jsii.Bool(false)})
	group := listener.AddTargets(jsii.String("HelloWorld"), &awselasticloadbalancingv2.AddApplicationTargetsProps{
		Port: jsii.Number(8080), Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP, Targets: &targets,
		HealthCheck: &awselasticloadbalancingv2.HealthCheck{
			Path: jsii.String("/"), Interval: awscdk.Duration_Seconds(jsii.Number(6)), Timeout: awscdk.Duration_Seconds(jsii.Number(5)),
			HealthyThresholdCount: jsii.Number(2), UnhealthyThresholdCount: jsii.Number(2),
		},
	})

	cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("AmazonSSMManagedInstanceCore is AWS's minimal policy for an SSM-managed instance")},
		{Id: jsii.String("AwsSolutions-ELB2"), Reason: jsii.String("demo load balancer: access logs would need a bucket the demo does not otherwise want")},
		{Id: jsii.String("AwsSolutions-EC23"), Reason: jsii.String("the demo's load balancer answers the configured demoAllowedCidr on port 80, as in the post")},
		{Id: jsii.String("AwsSolutions-EC2-_HTTP"), Reason: jsii.String("plain HTTP as in the post's demo")},
	}, nil)
	awscdk.NewCfnOutput(stack, jsii.String("LoadBalancerUrl"), &awscdk.CfnOutputProps{Value: jsii.String("http://" + *alb.LoadBalancerDnsName() + "/")})
	awscdk.NewCfnOutput(stack, jsii.String("TargetGroupArn"), &awscdk.CfnOutputProps{Value: group.TargetGroupArn()})
	awscdk.NewCfnOutput(stack, jsii.String("LoadBalancerMetricName"), &awscdk.CfnOutputProps{Value: alb.LoadBalancerFullName()})
	return stack
}
