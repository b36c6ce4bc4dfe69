/* generated from /work/shared/engine-api/transcripts (exchanges.jsonl.gz): the CLI 20.10's
 * POST /services/create bodies and dockerd 20.10's GET /services/<id>?insertDefaults=false
 * Spec for the same service (network targets kept as sent: dockerd resolves names to IDs
 * outside the converter). */
struct rt_case {
    const char *name, *req, *inspect;
};
static const struct rt_case rt_cases[] = {
    {"service-create-replicated",
     "{\"Name\":\"rec-web\",\"Labels\":{\"team\":\"core\"},\"TaskTemplate\":{\"ContainerSpec\":{"
     "\"Image\":\"busybox:latest\",\"Labels\":{\"clabel\":\"x\"},\"Args\":[\"httpd\",\"-f\",\"-p\","
     "\"80\",\"-h\",\"/"
     "\"],\"Env\":[\"FOO=bar\",\"MODE=test\"],\"Init\":false,\"DNSConfig\":{}},\"Resources\":{"
     "\"Limits\":{\"MemoryBytes\":67108864},\"Reservations\":{\"NanoCPUs\":100000000}},"
     "\"RestartPolicy\":{\"Condition\":\"on-failure\",\"Delay\":5000000000,\"MaxAttempts\":0},"
     "\"Placement\":{\"Constraints\":[\"node.role==manager\"]},\"Networks\":[{\"Target\":"
     "\"1cewvygqm2evizuo8ecst8qs0\"}],\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":2}}"
     ",\"UpdateConfig\":{\"Parallelism\":1,\"Delay\":2000000000,\"FailureAction\":\"pause\","
     "\"Monitor\":5000000000,\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},\"EndpointSpec\":{"
     "\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
     "\"PublishMode\":\"ingress\"}]}}\n",
     "{\"Name\":\"rec-web\",\"Labels\":{\"team\":\"core\"},\"TaskTemplate\":{\"ContainerSpec\":{"
     "\"Image\":\"busybox:latest\",\"Labels\":{\"clabel\":\"x\"},\"Args\":[\"httpd\",\"-f\",\"-p\","
     "\"80\",\"-h\",\"/"
     "\"],\"Env\":[\"FOO=bar\",\"MODE=test\"],\"Init\":false,\"DNSConfig\":{},\"Isolation\":"
     "\"default\"},\"Resources\":{\"Limits\":{\"MemoryBytes\":67108864},\"Reservations\":{"
     "\"NanoCPUs\":100000000}},\"RestartPolicy\":{\"Condition\":\"on-failure\",\"Delay\":"
     "5000000000,\"MaxAttempts\":0},\"Placement\":{\"Constraints\":[\"node.role==manager\"]},"
     "\"Networks\":[{\"Target\":\"1cewvygqm2evizuo8ecst8qs0\"}],\"ForceUpdate\":0,\"Runtime\":"
     "\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"UpdateConfig\":{\"Parallelism\":"
     "1,\"Delay\":2000000000,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
     "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":"
     "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"ingress\"}]"
     "}}"},
    {"service-create-global",
     "{\"Name\":\"rec-global\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
     "\"busybox:latest\",\"Args\":[\"sh\",\"-c\",\"i=0; while true; do echo out-line-$i; echo "
     "err-line-$i \\u003e\\u00262; i=$((i+1)); sleep 1; "
     "done\"],\"Init\":false,\"StopGracePeriod\":2000000000,\"DNSConfig\":{}},\"Resources\":{"
     "\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},\"Mode\":{\"Global\":{"
     "}},\"EndpointSpec\":{\"Mode\":\"vip\"}}\n",
     "{\"Name\":\"rec-global\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
     "\"busybox:latest\",\"Args\":[\"sh\",\"-c\",\"i=0; while true; do echo out-line-$i; echo "
     "err-line-$i >&2; i=$((i+1)); sleep 1; "
     "done\"],\"Init\":false,\"StopGracePeriod\":2000000000,\"DNSConfig\":{},\"Isolation\":"
     "\"default\"},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{},"
     "\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"Global\":{}},\"EndpointSpec\":{"
     "\"Mode\":\"vip\"}}"},
    {"service-create-replicated-job",
     "{\"Name\":\"rec-job\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:"
     "latest\",\"Args\":[\"echo\",\"job-done\"],\"Init\":false,\"DNSConfig\":{}},\"Resources\":{"
     "\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},\"Mode\":{"
     "\"ReplicatedJob\":{\"MaxConcurrent\":1,\"TotalCompletions\":2}},\"EndpointSpec\":{\"Mode\":"
     "\"vip\"}}\n",
     "{\"Name\":\"rec-job\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:"
     "latest\",\"Args\":[\"echo\",\"job-done\"],\"Init\":false,\"DNSConfig\":{},\"Isolation\":"
     "\"default\"},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{},"
     "\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"ReplicatedJob\":{\"MaxConcurrent\":"
     "1,\"TotalCompletions\":2}},\"EndpointSpec\":{\"Mode\":\"vip\"}}"},
    {"service-create-global-job",
     "{\"Name\":\"rec-gjob\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
     "\"busybox:latest\",\"Args\":[\"echo\",\"gjob-done\"],\"Init\":false,\"DNSConfig\":{}},"
     "\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},"
     "\"Mode\":{\"GlobalJob\":{}},\"EndpointSpec\":{\"Mode\":\"vip\"}}\n",
     "{\"Name\":\"rec-gjob\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
     "\"busybox:latest\",\"Args\":[\"echo\",\"gjob-done\"],\"Init\":false,\"DNSConfig\":{},"
     "\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{}"
     ",\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"GlobalJob\":{}},\"EndpointSpec\":{"
     "\"Mode\":\"vip\"}}"},
    {"service-create-secret-config",
     "{\"Name\":\"rec-sc\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:"
     "latest\",\"Args\":[\"sleep\",\"3600\"],\"Init\":false,\"DNSConfig\":{},\"Secrets\":[{"
     "\"File\":{\"Name\":\"rec-secret\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"SecretID\":"
     "\"fuipqi28f77rzwvjf0gudywdt\",\"SecretName\":\"rec-secret\"},{\"File\":{\"Name\":\"/run/"
     "secrets/"
     "alt\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":256},\"SecretID\":\"fuipqi28f77rzwvjf0gudywdt\","
     "\"SecretName\":\"rec-secret\"}],\"Configs\":[{\"File\":{\"Name\":\"/etc/"
     "app.conf\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"ConfigID\":"
     "\"5ksk8fzp6w3szyw8bxfu6ano6\",\"ConfigName\":\"rec-config\"}]},\"Resources\":{\"Limits\":{},"
     "\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{}},"
     "\"EndpointSpec\":{\"Mode\":\"vip\"}}\n",
     "{\"Name\":\"rec-sc\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:"
     "latest\",\"Args\":[\"sleep\",\"3600\"],\"Init\":false,\"DNSConfig\":{},\"Secrets\":[{"
     "\"File\":{\"Name\":\"rec-secret\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"SecretID\":"
     "\"fuipqi28f77rzwvjf0gudywdt\",\"SecretName\":\"rec-secret\"},{\"File\":{\"Name\":\"/run/"
     "secrets/"
     "alt\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":256},\"SecretID\":\"fuipqi28f77rzwvjf0gudywdt\","
     "\"SecretName\":\"rec-secret\"}],\"Configs\":[{\"File\":{\"Name\":\"/etc/"
     "app.conf\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"ConfigID\":"
     "\"5ksk8fzp6w3szyw8bxfu6ano6\",\"ConfigName\":\"rec-config\"}],\"Isolation\":\"default\"},"
     "\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0,"
     "\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"EndpointSpec\":{"
     "\"Mode\":\"vip\"}}"},
    {"stack-deploy",
     "{\"Name\":\"rec-stack_web\",\"Labels\":{\"com.docker.stack.image\":\"busybox:latest\",\"com."
     "docker.stack.namespace\":\"rec-stack\",\"tier\":\"front\"},\"TaskTemplate\":{"
     "\"ContainerSpec\":{\"Image\":\"busybox:latest\",\"Labels\":{\"com.docker.stack.namespace\":"
     "\"rec-stack\"},\"Args\":[\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/"
     "\"],\"Env\":[\"ROLE=web\"],\"Privileges\":{\"CredentialSpec\":null,\"SELinuxContext\":null},"
     "\"Secrets\":[{\"File\":{\"Name\":\"stack_secret\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},"
     "\"SecretID\":\"f4vy9nmbpt51vru8ztm0zlkxd\",\"SecretName\":\"rec-stack_stack_secret\"}],"
     "\"Configs\":[{\"File\":{\"Name\":\"/etc/"
     "stack.conf\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"ConfigID\":"
     "\"ib56cy8pf2y82zsrglio7qt4m\",\"ConfigName\":\"rec-stack_stack_config\"}]},\"Resources\":{"
     "\"Limits\":{\"MemoryBytes\":67108864}},\"RestartPolicy\":{\"Condition\":\"on-failure\"},"
     "\"Placement\":{},\"Networks\":[{\"Target\":\"rec-stack_backend\",\"Aliases\":[\"web\"]}],"
     "\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"EndpointSpec\":{\"Ports\":[{"
     "\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8081,\"PublishMode\":\"ingress\"}]}}"
     "\n",
     "{\"Name\":\"rec-stack_web\",\"Labels\":{\"com.docker.stack.image\":\"busybox:latest\",\"com."
     "docker.stack.namespace\":\"rec-stack\",\"tier\":\"front\"},\"TaskTemplate\":{"
     "\"ContainerSpec\":{\"Image\":\"busybox:latest\",\"Labels\":{\"com.docker.stack.namespace\":"
     "\"rec-stack\"},\"Args\":[\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/"
     "\"],\"Env\":[\"ROLE=web\"],\"Privileges\":{\"CredentialSpec\":null,\"SELinuxContext\":null},"
     "\"Secrets\":[{\"File\":{\"Name\":\"stack_secret\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},"
     "\"SecretID\":\"f4vy9nmbpt51vru8ztm0zlkxd\",\"SecretName\":\"rec-stack_stack_secret\"}],"
     "\"Configs\":[{\"File\":{\"Name\":\"/etc/"
     "stack.conf\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"ConfigID\":"
     "\"ib56cy8pf2y82zsrglio7qt4m\",\"ConfigName\":\"rec-stack_stack_config\"}],\"Isolation\":"
     "\"default\"},\"Resources\":{\"Limits\":{\"MemoryBytes\":67108864}},\"RestartPolicy\":{"
     "\"Condition\":\"on-failure\",\"MaxAttempts\":0},\"Placement\":{},\"Networks\":[{\"Target\":"
     "\"rec-stack_backend\",\"Aliases\":[\"web\"]}],\"ForceUpdate\":0,\"Runtime\":\"container\"},"
     "\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{"
     "\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8081,\"PublishMode\":\"ingress\"}]}"
     "}"},
    {"stack-deploy-2",
     "{\"Name\":\"rec-stack_worker\",\"Labels\":{\"com.docker.stack.image\":\"busybox:latest\","
     "\"com.docker.stack.namespace\":\"rec-stack\"},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
     "\"busybox:latest\",\"Labels\":{\"com.docker.stack.namespace\":\"rec-stack\"},\"Args\":["
     "\"sh\",\"-c\",\"while true; do echo working; sleep 5; "
     "done\"],\"Privileges\":{\"CredentialSpec\":null,\"SELinuxContext\":null},\"StopGracePeriod\":"
     "2000000000},\"Resources\":{},\"Placement\":{\"Constraints\":[\"node.role == "
     "manager\"]},\"Networks\":[{\"Target\":\"rec-stack_backend\",\"Aliases\":[\"worker\"]}],"
     "\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"EndpointSpec\":{}}\n",
     "{\"Name\":\"rec-stack_worker\",\"Labels\":{\"com.docker.stack.image\":\"busybox:latest\","
     "\"com.docker.stack.namespace\":\"rec-stack\"},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
     "\"busybox:latest\",\"Labels\":{\"com.docker.stack.namespace\":\"rec-stack\"},\"Args\":["
     "\"sh\",\"-c\",\"while true; do echo working; sleep 5; "
     "done\"],\"Privileges\":{\"CredentialSpec\":null,\"SELinuxContext\":null},\"StopGracePeriod\":"
     "2000000000,\"Isolation\":\"default\"},\"Resources\":{},\"Placement\":{\"Constraints\":["
     "\"node.role == "
     "manager\"]},\"Networks\":[{\"Target\":\"rec-stack_backend\",\"Aliases\":[\"worker\"]}],"
     "\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":1}},"
     "\"EndpointSpec\":{\"Mode\":\"vip\"}}"},
};
