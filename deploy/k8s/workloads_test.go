package k8s

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// namespace is where every object of the suite lives.
const namespace = "interloan"

// callGraph is the suite's "who calls whom" inside the cluster (docs/architecture.md):
// the upstreams each workload is configured to dial, and the only pod-to-pod traffic the
// NetworkPolicy may allow. Everything else is checked against the binaries' own code.
var callGraph = map[string][]string{
	"gateway":   {"harvester", "mapping", "profiles", "requests"},
	"console":   {"harvester", "mapping", "profiles", "requests"},
	"harvester": {"mapping", "profiles", "requests"},
}

// workload is a StatefulSet or Deployment, reduced to what the checks compare.
type workload struct {
	name, kind string
	replicas   int32
	pod        corev1.PodTemplateSpec
	claims     []corev1.PersistentVolumeClaim
}

func (o *objects) workloads() map[string]workload {
	ws := map[string]workload{}
	for name, s := range o.statefulSets {
		ws[name] = workload{name: name, kind: "StatefulSet", replicas: deref(s.Spec.Replicas, 1), pod: s.Spec.Template, claims: s.Spec.VolumeClaimTemplates}
	}
	for name, d := range o.deployments {
		ws[name] = workload{name: name, kind: "Deployment", replicas: deref(d.Spec.Replicas, 1), pod: d.Spec.Template}
	}
	return ws
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// TestManifestsMatchConfiguration checks each overlay's workloads against the code of the
// binaries they run: env names, ports, probes, mounted files, data volumes, shutdown
// timing, upstream addresses and Services, plus the security baseline.
func TestManifestsMatchConfiguration(t *testing.T) {
	for _, overlay := range overlays(t) {
		t.Run(overlay, func(t *testing.T) {
			checkSuite(t, render(t, overlay))
		})
	}
}

// checkSuite checks one rendered deployment: its namespace, each workload against its
// binary, the upstreams against the call graph, the Services and the budgets.
func checkSuite(t *testing.T, o *objects) {
	t.Helper()
	checkNamespace(t, o)
	ws := o.workloads()
	if got, want := slices.Sorted(maps.Keys(ws)), slices.Sorted(maps.Keys(binaries)); !slices.Equal(got, want) {
		t.Fatalf("workloads %v, want one per binary %v", got, want)
	}
	dialled := map[string][]string{}
	for name, w := range ws {
		t.Run(name, func(t *testing.T) {
			dialled[name] = checkWorkload(t, o, ws, w, binaries[name])
		})
	}
	for name, callees := range dialled {
		if len(callees) == 0 {
			delete(dialled, name)
		}
	}
	if !maps.EqualFunc(dialled, callGraph, slices.Equal) {
		t.Errorf("configured upstreams %v, want the call graph %v", dialled, callGraph)
	}
	checkServices(t, o, ws)
	checkDisruptionBudgets(t, o, ws)
}

func checkNamespace(t *testing.T, o *objects) {
	t.Helper()
	if len(o.namespaces) != 1 || o.namespaces[0].Name != namespace {
		t.Fatalf("want exactly the namespace %q, got %d", namespace, len(o.namespaces))
	}
	if got := o.namespaces[0].Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace enforces pod security %q, want restricted", got)
	}
	for obj, ns := range o.placed {
		if ns != namespace {
			t.Errorf("%s is in namespace %q, want %q", obj, ns, namespace)
		}
	}
}

// checkWorkload checks one workload and returns the workloads it is configured to dial.
func checkWorkload(t *testing.T, o *objects, ws map[string]workload, w workload, b binary) []string {
	t.Helper()
	spec := w.pod.Spec
	if len(spec.Containers) != 1 || spec.Containers[0].Name != w.name {
		t.Fatalf("want one container named %s", w.name)
	}
	c := spec.Containers[0]
	checkImage(t, c.Image, w.name)
	checkSecurity(t, spec, c)
	checkResources(t, c)

	env, st := podEnv(t, o, w, b)
	def := b.defaults(t)
	tls := env["INTERLOAN_TLS_CERT"] != ""

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	httpPort := listenPort(t, "HTTP", st.httpAddr, def.httpAddr, ports["http"])
	if b.edge() {
		checkEdgeProbes(t, c, httpPort, tls)
		// /metrics is kept off the public port, on a listener of its own.
		listenPort(t, "metrics", st.metricsAddr, def.metricsAddr, ports["metrics"])
	} else {
		grpcPort := listenPort(t, "gRPC", st.grpcAddr, def.grpcAddr, ports["grpc"])
		if grpcPort != b.grpcPort {
			t.Errorf("gRPC port %d, want the design's %d", grpcPort, b.grpcPort)
		}
		checkServiceProbes(t, c, b, grpcPort, httpPort, tls)
	}

	if st.identity != nil && !*st.identity {
		t.Error("no service token and no client certificate: the binary has nothing to authenticate its calls with")
	}
	checkFiles(t, o, w, c, env, st.dataDir)
	checkGrace(t, spec, c, b, st)

	var callees []string
	for callee, addr := range st.upstreams {
		if err := checkUpstream(o, ws, callee, addr); err != nil {
			t.Errorf("upstream %s: %v", callee, err)
		}
		callees = append(callees, callee)
	}
	slices.Sort(callees)
	return callees
}

// podEnv is the environment of w's container and the settings its binary parses from
// it, as the process does at start; a name the binary does not know is an error.
func podEnv(t *testing.T, o *objects, w workload, b binary) (map[string]string, settings) {
	t.Helper()
	env, err := o.env(w.pod.Spec.Containers[0])
	if err != nil {
		t.Fatal(err)
	}
	st, known, err := b.load(t, env)
	if err != nil {
		t.Fatalf("the binary refuses its pod's environment: %v", err)
	}
	for name := range env {
		if !known[name] && !strings.HasPrefix(name, "OTEL_") {
			t.Errorf("env %s is no flag of %s (it knows %v)", name, w.name, slices.Sorted(maps.Keys(known)))
		}
	}
	return env, st
}

func checkImage(t *testing.T, image, name string) {
	t.Helper()
	repo, tag, ok := strings.Cut(path.Base(image), ":")
	if repo != name || !ok || tag == "" || tag == "latest" {
		t.Errorf("image %q: want .../%s:<version> (one image per binary, never :latest)", image, name)
	}
}

// checkSecurity is the Pod Security "restricted" profile plus a read-only root file
// system and no service-account token (no workload talks to the API server).
func checkSecurity(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc := spec.SecurityContext
	switch {
	case psc == nil:
		t.Fatal("no pod securityContext")
	case !deref(psc.RunAsNonRoot, false):
		t.Error("runAsNonRoot is not true")
	case deref(psc.RunAsUser, 0) == 0:
		t.Error("runAsUser is not a non-root uid")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("seccompProfile is not RuntimeDefault")
	}
	if deref(spec.AutomountServiceAccountToken, true) {
		t.Error("the service-account token is mounted")
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("host namespaces are shared")
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case deref(sc.AllowPrivilegeEscalation, true):
		t.Error("allowPrivilegeEscalation is not false")
	case !deref(sc.ReadOnlyRootFilesystem, false):
		t.Error("readOnlyRootFilesystem is not true")
	case deref(sc.Privileged, false):
		t.Error("privileged")
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
		t.Error("capabilities: want drop [ALL] and nothing added")
	}
}

func checkResources(t *testing.T, c corev1.Container) {
	t.Helper()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		if req.IsZero() || lim.IsZero() {
			t.Errorf("%s: want a request and a limit", r)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", r, req.String(), lim.String())
		}
	}
}

// listenPort checks that a listen address is on every interface (the pod's IP, not
// loopback), on the binary's default port and on the container port of that name.
func listenPort(t *testing.T, what, addr, defAddr string, containerPort int32) int {
	t.Helper()
	host, p, err := port(addr)
	if err != nil {
		t.Errorf("%s address: %v", what, err)
		return 0
	}
	_, def, err := port(defAddr)
	if err != nil {
		t.Fatalf("default %s address: %v", what, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s listens on %q: the kubelet and other pods cannot reach it", what, addr)
	}
	if p != def {
		t.Errorf("%s port %d, want the binary's default %d", what, p, def)
	}
	if int32(p) != containerPort {
		t.Errorf("%s port %d is not the container port (%d)", what, p, containerPort)
	}
	return p
}

// checkServiceProbes: native gRPC probes on the gRPC port without TLS (readiness asks a
// service the binary reports); HTTPS on the health port with TLS, which the kubelet's
// gRPC probe cannot speak.
func checkServiceProbes(t *testing.T, c corev1.Container, b binary, grpcPort, httpPort int, tls bool) {
	t.Helper()
	for _, p := range []struct {
		name, path string
		probe      *corev1.Probe
		service    bool
	}{
		{"readiness", "/readyz", c.ReadinessProbe, true},
		{"liveness", "/healthz", c.LivenessProbe, false},
	} {
		switch {
		case p.probe == nil:
			t.Errorf("no %s probe", p.name)
		case tls:
			checkHTTPProbe(t, p.name, c, p.probe, p.path, httpPort, corev1.URISchemeHTTPS)
		case p.probe.GRPC == nil:
			t.Errorf("%s probe: want a native gRPC probe without TLS", p.name)
		case int(p.probe.GRPC.Port) != grpcPort:
			t.Errorf("%s probe on port %d, want gRPC %d", p.name, p.probe.GRPC.Port, grpcPort)
		case p.service && !slices.Contains(b.healthServices, deref(p.probe.GRPC.Service, "")):
			t.Errorf("%s probe asks for %q, want one of %v", p.name, deref(p.probe.GRPC.Service, ""), b.healthServices)
		case !p.service && deref(p.probe.GRPC.Service, "") != "":
			t.Errorf("%s probe asks for %q, want the server's overall status", p.name, *p.probe.GRPC.Service)
		}
	}
}

// checkEdgeProbes: /healthz for both (see gateway.yaml for why not /readyz), HTTPS
// exactly when the gateway or the console serves TLS.
func checkEdgeProbes(t *testing.T, c corev1.Container, httpPort int, tls bool) {
	t.Helper()
	scheme := corev1.URISchemeHTTP
	if tls {
		scheme = corev1.URISchemeHTTPS
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil {
			t.Errorf("no %s probe", name)
			continue
		}
		checkHTTPProbe(t, name, c, p, "/healthz", httpPort, scheme)
	}
}

func checkHTTPProbe(t *testing.T, name string, c corev1.Container, p *corev1.Probe, wantPath string, wantPort int, scheme corev1.URIScheme) {
	t.Helper()
	g := p.HTTPGet
	if g == nil {
		t.Errorf("%s probe: want httpGet", name)
		return
	}
	if g.Scheme == "" {
		g.Scheme = corev1.URISchemeHTTP
	}
	port, err := containerPort(c, g.Port)
	switch {
	case err != nil:
		t.Errorf("%s probe: %v", name, err)
	case g.Path != wantPath || port != int32(wantPort) || g.Scheme != scheme:
		t.Errorf("%s probe %s %s:%d, want %s %s:%d", name, g.Scheme, g.Path, port, scheme, wantPath, wantPort)
	}
}

// containerPort resolves a port number or name against the container's ports.
func containerPort(c corev1.Container, p intstr.IntOrString) (int32, error) {
	for _, cp := range c.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("port %s is not a port of container %s", p.String(), c.Name)
}

// env is the container's environment as the process sees it, resolving ConfigMaps.
func (o *objects) env(c corev1.Container) (map[string]string, error) {
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			return nil, fmt.Errorf("envFrom: only ConfigMaps are expected (secrets are files)")
		}
		cm, ok := o.configMaps[from.ConfigMapRef.Name]
		if !ok {
			return nil, fmt.Errorf("envFrom: no ConfigMap %s", from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			// One key of a ConfigMap (components/oidc gives the console three keys of
			// the services' settings, not all of them).
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := o.configMaps[ref.Name]
			if !ok {
				return nil, fmt.Errorf("env %s: no ConfigMap %s", e.Name, ref.Name)
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("env %s: ConfigMap %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			return nil, fmt.Errorf("env %s: valueFrom other than a ConfigMap key is not expected (secrets are files)", e.Name)
		}
	}
	return env, nil
}

// checkFiles: the data directory is the workload's own volume, writable; every other
// absolute path in the environment is a file of a Secret mounted whole (a subPath mount
// never sees the Secret change, and the binaries reload tokens and certificates) and
// read-only. Where the overlay renders Secrets, the key must be in it.
func checkFiles(t *testing.T, o *objects, w workload, c corev1.Container, env map[string]string, dataDir string) {
	t.Helper()
	volumes := map[string]corev1.Volume{}
	for _, v := range w.pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	claims := map[string]bool{}
	for _, pvc := range w.claims {
		claims[pvc.Name] = true
		if pvc.Spec.Resources.Requests.Storage().IsZero() {
			t.Errorf("volume claim %s requests no storage", pvc.Name)
		}
	}
	files := map[string]string{} // path → secret/key
	dataMounted := false
	for _, m := range c.VolumeMounts {
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Errorf("mount %s uses subPath", m.Name)
		}
		if claims[m.Name] {
			dataMounted = dataMounted || m.MountPath == dataDir && !m.ReadOnly
			continue
		}
		v, ok := volumes[m.Name]
		if !ok || v.Secret == nil {
			t.Errorf("mount %s: want a Secret volume or the data claim", m.Name)
			continue
		}
		if !m.ReadOnly {
			t.Errorf("secret mount %s is writable", m.Name)
		}
		for _, it := range v.Secret.Items {
			files[path.Join(m.MountPath, it.Path)] = v.Secret.SecretName + "/" + it.Key
		}
		if len(v.Secret.Items) == 0 {
			t.Errorf("secret volume %s: list its items, so the file names are part of the manifest", m.Name)
		}
	}
	switch {
	case w.kind == "StatefulSet" && (w.replicas != 1 || !dataMounted):
		t.Errorf("a bbolt service needs one replica and its data dir %s on its own writable volume", dataDir)
	case w.kind != "StatefulSet" && len(w.claims) > 0:
		t.Error("a stateless workload has volume claims")
	}
	for name, v := range env {
		if !strings.HasPrefix(v, "/") || v == dataDir {
			continue
		}
		ref, ok := files[v]
		if !ok {
			t.Errorf("%s=%s is no file of a mounted Secret", name, v)
			continue
		}
		if len(o.secrets) == 0 {
			continue // the Secrets are made outside the overlay (production)
		}
		secret, key, _ := strings.Cut(ref, "/")
		if s, ok := o.secrets[secret]; !ok {
			t.Errorf("%s: Secret %s is not rendered", name, secret)
		} else if _, ok := s.Data[key]; !ok {
			t.Errorf("%s: Secret %s has no key %s", name, secret, key)
		}
	}
}

// checkGrace: the kubelet must not kill a process that is still inside its own bounded
// shutdown: the preStop sleep plus every phase --shutdown-grace bounds.
func checkGrace(t *testing.T, spec corev1.PodSpec, c corev1.Container, b binary, st settings) {
	t.Helper()
	var sleep int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		sleep = c.Lifecycle.PreStop.Sleep.Seconds
	}
	need := sleep + int64(b.shutdownPhases)*int64(st.grace.Seconds())
	if got := deref(spec.TerminationGracePeriodSeconds, 30); got <= need {
		t.Errorf("terminationGracePeriodSeconds %d, want more than %d (preStop %ds + %d × --shutdown-grace %s)", got, need, sleep, b.shutdownPhases, st.grace)
	}
}

// checkUpstream: addr names a Service of this namespace, on a port that leads to the
// callee's gRPC container port, and the Service selects the callee's pods alone.
func checkUpstream(o *objects, ws map[string]workload, callee, addr string) error {
	host, p, err := port(addr)
	if err != nil {
		return err
	}
	svc, ok := o.services[host]
	if !ok {
		return fmt.Errorf("%s: no Service %q", addr, host)
	}
	if got := selected(svc.Spec.Selector, ws); !slices.Equal(got, []string{callee}) {
		return fmt.Errorf("%s: Service %s selects %v", addr, host, got)
	}
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) != p {
			continue
		}
		target, err := containerPort(ws[callee].pod.Spec.Containers[0], sp.TargetPort)
		if err != nil {
			return err
		}
		if want := binaries[callee].grpcPort; int(target) != want {
			return fmt.Errorf("%s leads to port %d, want gRPC %d", addr, target, want)
		}
		return nil
	}
	return fmt.Errorf("%s: Service %s has no port %d", addr, host, p)
}

// selected are the workloads whose pods a Service selector matches.
func selected(selector map[string]string, ws map[string]workload) []string {
	var names []string
	for name, w := range ws {
		if len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(w.pod.Labels)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// checkServices: every Service selects exactly one workload and its ports lead to
// container ports; each StatefulSet's governing Service is headless and its own.
func checkServices(t *testing.T, o *objects, ws map[string]workload) {
	t.Helper()
	for name, svc := range o.services {
		sel := selected(svc.Spec.Selector, ws)
		if len(sel) != 1 {
			t.Errorf("Service %s selects %v, want one workload", name, sel)
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if _, err := containerPort(ws[sel[0]].pod.Spec.Containers[0], sp.TargetPort); err != nil {
				t.Errorf("Service %s port %s: %v", name, sp.Name, err)
			}
		}
	}
	for name, s := range o.statefulSets {
		svc, ok := o.services[s.Spec.ServiceName]
		switch {
		case !ok:
			t.Errorf("StatefulSet %s: no governing Service %q", name, s.Spec.ServiceName)
		case svc.Spec.ClusterIP != corev1.ClusterIPNone:
			t.Errorf("StatefulSet %s: governing Service %s is not headless", name, svc.Name)
		case !slices.Equal(selected(svc.Spec.Selector, ws), []string{name}):
			t.Errorf("StatefulSet %s: governing Service %s selects other pods", name, svc.Name)
		}
	}
}

// checkDisruptionBudgets: a workload that runs one replica by design (binary.single)
// runs one in every overlay and has no budget, since with one replica any budget would
// either block node drains forever or allow everything; every other workload has exactly
// one budget, and it never blocks a drain by itself.
func checkDisruptionBudgets(t *testing.T, o *objects, ws map[string]workload) {
	t.Helper()
	covered := map[string]int{}
	for _, pdb := range o.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for name, w := range ws {
			if sel.Matches(labels.Set(w.pod.Labels)) {
				names = append(names, name)
			}
		}
		if len(names) != 1 {
			t.Errorf("the budget %s covers %v, want one workload", pdb.Name, names)
			continue
		}
		name, w := names[0], ws[names[0]]
		covered[name]++
		allowed := 0
		switch {
		case pdb.Spec.MaxUnavailable != nil:
			allowed, err = intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(w.replicas), false)
		case pdb.Spec.MinAvailable != nil:
			var min int
			min, err = intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(w.replicas), true)
			allowed = int(w.replicas) - min
		}
		if err != nil || allowed < 1 {
			t.Errorf("the %s budget allows %d of %d pods to be evicted (%v): it would block node drains", name, allowed, w.replicas, err)
		}
	}
	for name, w := range ws {
		single := binaries[name].single
		switch {
		case single != "" && w.replicas != 1:
			t.Errorf("%s runs %d replicas, want one: %s", name, w.replicas, single)
		case single != "" && covered[name] > 0:
			t.Errorf("%s runs one replica (%s) yet has a PodDisruptionBudget", name, single)
		case single == "" && covered[name] != 1:
			t.Errorf("%s has %d PodDisruptionBudgets, want one", name, covered[name])
		}
	}
}
