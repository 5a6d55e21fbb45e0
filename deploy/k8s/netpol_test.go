package k8s

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// flow is a connection one pod of the namespace may open to another's container port.
type flow struct {
	from, to string
	port     int32 // TCP
}

func (f flow) String() string { return fmt.Sprintf("%s→%s:%d", f.from, f.to, f.port) }

// netpol evaluates the NetworkPolicies of the suite's namespace the way the API defines
// them: a pod is isolated in a direction once a policy of that type selects it, and a
// connection needs both the source's egress and the destination's ingress allowed.
type netpol struct {
	policies []*networkingv1.NetworkPolicy
	ws       map[string]workload
}

// nsLabels are the labels the API server gives the suite's namespace.
var nsLabels = labels.Set{"kubernetes.io/metadata.name": namespace}

func matches(sel *metav1.LabelSelector, set labels.Set) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(set)
}

// selecting are the policies of type typ that select w; none means w is not isolated
// in that direction.
func (n netpol) selecting(w workload, typ networkingv1.PolicyType) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, p := range n.policies {
		types := p.Spec.PolicyTypes
		if len(types) == 0 { // the API's defaulting
			types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			if len(p.Spec.Egress) > 0 {
				types = append(types, networkingv1.PolicyTypeEgress)
			}
		}
		if slices.Contains(types, typ) && matches(&p.Spec.PodSelector, labels.Set(w.pod.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// peerIsPod reports whether peer admits pod w of the namespace. An ipBlock is taken as
// addresses outside the cluster, which is how the policies use it.
func peerIsPod(peer networkingv1.NetworkPolicyPeer, w workload) bool {
	if peer.IPBlock != nil {
		return false
	}
	if peer.NamespaceSelector != nil && !matches(peer.NamespaceSelector, nsLabels) {
		return false
	}
	return peer.PodSelector == nil || matches(peer.PodSelector, labels.Set(w.pod.Labels))
}

// portMatches reports whether a rule's ports admit container port cp.
func portMatches(ports []networkingv1.NetworkPolicyPort, cp corev1.ContainerPort) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if deref(p.Protocol, corev1.ProtocolTCP) != cmpProto(cp.Protocol) {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String:
			if p.Port.StrVal == cp.Name {
				return true
			}
		case cp.ContainerPort == p.Port.IntVal, p.EndPort != nil && cp.ContainerPort >= p.Port.IntVal && cp.ContainerPort <= *p.EndPort:
			return true
		}
	}
	return false
}

func cmpProto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (n netpol) ingressAllowed(src, dst workload, cp corev1.ContainerPort) bool {
	pols := n.selecting(dst, networkingv1.PolicyTypeIngress)
	if len(pols) == 0 {
		return true
	}
	for _, p := range pols {
		for _, r := range p.Spec.Ingress {
			if portMatches(r.Ports, cp) && (len(r.From) == 0 || slices.ContainsFunc(r.From, func(peer networkingv1.NetworkPolicyPeer) bool { return peerIsPod(peer, src) })) {
				return true
			}
		}
	}
	return false
}

func (n netpol) egressAllowed(src, dst workload, cp corev1.ContainerPort) bool {
	pols := n.selecting(src, networkingv1.PolicyTypeEgress)
	if len(pols) == 0 {
		return true
	}
	for _, p := range pols {
		for _, r := range p.Spec.Egress {
			if portMatches(r.Ports, cp) && (len(r.To) == 0 || slices.ContainsFunc(r.To, func(peer networkingv1.NetworkPolicyPeer) bool { return peerIsPod(peer, dst) })) {
				return true
			}
		}
	}
	return false
}

// flows are every pod-to-pod connection the policies allow, on the ports the
// destination's container declares.
func (n netpol) flows() []flow {
	return n.flowsWhere(func(src, dst workload, cp corev1.ContainerPort) bool {
		return n.ingressAllowed(src, dst, cp) && n.egressAllowed(src, dst, cp)
	})
}

// flowsWhere are the pod-to-pod connections that allowed admits. One side alone
// (ingressAllowed or egressAllowed) shows what that side would let through were the
// other side's policy lost.
func (n netpol) flowsWhere(allowed func(src, dst workload, cp corev1.ContainerPort) bool) []flow {
	var out []flow
	for _, src := range n.ws {
		for _, dst := range n.ws {
			for _, cp := range dst.pod.Spec.Containers[0].Ports {
				if allowed(src, dst, cp) {
					out = append(out, flow{src.name, dst.name, cp.ContainerPort})
				}
			}
		}
	}
	return sortedFlows(out)
}

func sortedFlows(fs []flow) []flow {
	slices.SortFunc(fs, func(a, b flow) int { return cmp.Compare(a.String(), b.String()) })
	return fs
}

// outside describes what w may reach, or be reached from, beyond the namespace's pods:
// "<peer> <proto>/<port>" per allowed rule, "anything" when w is not isolated.
func (n netpol) outside(w workload, typ networkingv1.PolicyType) []string {
	pols := n.selecting(w, typ)
	if len(pols) == 0 {
		return []string{"anything"}
	}
	var out []string
	add := func(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) {
		var names []string
		if len(peers) == 0 {
			names = append(names, "anywhere")
		}
		for _, peer := range peers {
			switch {
			case peer.IPBlock != nil && (peer.IPBlock.CIDR == "0.0.0.0/0" || peer.IPBlock.CIDR == "::/0"):
				names = append(names, "internet")
			case peer.IPBlock != nil:
				names = append(names, "ipBlock "+peer.IPBlock.CIDR)
			case peer.NamespaceSelector != nil && !matches(peer.NamespaceSelector, nsLabels):
				names = append(names, fmt.Sprintf("namespaces(%s) pods(%s)", selectorString(peer.NamespaceSelector), selectorString(peer.PodSelector)))
			}
		}
		for _, name := range names {
			if len(ports) == 0 {
				out = append(out, name+" all ports")
			}
			for _, p := range ports {
				port := "*"
				if p.Port != nil {
					port = p.Port.String()
				}
				out = append(out, fmt.Sprintf("%s %s/%s", name, deref(p.Protocol, corev1.ProtocolTCP), port))
			}
		}
	}
	for _, p := range pols {
		if typ == networkingv1.PolicyTypeIngress {
			for _, r := range p.Spec.Ingress {
				add(r.From, r.Ports)
			}
		} else {
			for _, r := range p.Spec.Egress {
				add(r.To, r.Ports)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// selectorString is a selector as kubectl shows it; "all" for none or an empty one.
func selectorString(sel *metav1.LabelSelector) string {
	if sel == nil {
		return "all"
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "invalid: " + err.Error()
	}
	if s.Empty() {
		return "all"
	}
	return s.String()
}

const dnsPeer = "namespaces(kubernetes.io/metadata.name=kube-system) pods(k8s-app=kube-dns)"

// TestNetworkPolicyIsTheCallGraph: between the suite's pods exactly the call graph is
// open, on the callees' gRPC ports from their code; beyond them, the edge's public ports
// (the gateway's REST port, the console's) are reachable from anywhere, the harvester
// reaches HTTPS anywhere, and the pods that dial by name (the callers) reach the cluster
// DNS. Nothing else, in either direction.
func TestNetworkPolicyIsTheCallGraph(t *testing.T) {
	for _, overlay := range overlays(t) {
		t.Run(overlay, func(t *testing.T) {
			checkNetworkPolicy(t, render(t, overlay), nil)
		})
	}
}

// checkNetworkPolicy checks the policies of one rendered deployment as
// TestNetworkPolicyIsTheCallGraph describes; extraEgress adds, by workload, what a
// component opens beyond the namespace ("<peer> <proto>/<port>", as netpol.outside
// names it).
func checkNetworkPolicy(t *testing.T, o *objects, extraEgress map[string][]string) {
	t.Helper()
	var want []flow
	for caller, callees := range callGraph {
		for _, callee := range callees {
			want = append(want, flow{caller, callee, int32(binaries[callee].grpcPort)})
		}
	}
	want = sortedFlows(want)
	dns := []string{dnsPeer + " TCP/53", dnsPeer + " UDP/53"}

	n := netpol{policies: o.policies, ws: o.workloads()}
	// The edge's public port is its binary's default HTTP port.
	public := map[string]int{}
	for name, b := range binaries {
		if !b.edge() {
			continue
		}
		_, p, err := port(b.defaults(t).httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		public[name] = p
	}
	// Each side on its own is exact too, so that no caller outside the graph is one lost
	// policy away from a callee. The edge's public ports admit every pod.
	wantIngress := slices.Clone(want)
	for name := range n.ws {
		for edge, p := range public {
			wantIngress = append(wantIngress, flow{name, edge, int32(p)})
		}
	}
	for _, side := range []struct {
		name    string
		allowed func(src, dst workload, cp corev1.ContainerPort) bool
		want    []flow
	}{
		{"allowed", func(src, dst workload, cp corev1.ContainerPort) bool {
			return n.ingressAllowed(src, dst, cp) && n.egressAllowed(src, dst, cp)
		}, want},
		{"admitted by ingress rules", n.ingressAllowed, sortedFlows(wantIngress)},
		{"let out by egress rules", n.egressAllowed, want},
	} {
		if got := n.flowsWhere(side.allowed); !slices.Equal(got, side.want) {
			t.Errorf("pod-to-pod flows %s\n got %v\nwant %v", side.name, got, side.want)
		}
	}
	wantOut := map[string]map[networkingv1.PolicyType][]string{
		"harvester": {networkingv1.PolicyTypeEgress: append([]string{"internet TCP/443"}, dns...)},
	}
	for edge, p := range public {
		wantOut[edge] = map[networkingv1.PolicyType][]string{
			networkingv1.PolicyTypeIngress: {fmt.Sprintf("anywhere TCP/%d", p)},
			networkingv1.PolicyTypeEgress:  dns,
		}
	}
	for name, extra := range extraEgress {
		if wantOut[name] == nil {
			wantOut[name] = map[networkingv1.PolicyType][]string{}
		}
		wantOut[name][networkingv1.PolicyTypeEgress] = append(slices.Clone(wantOut[name][networkingv1.PolicyTypeEgress]), extra...)
	}
	for _, name := range slices.Sorted(maps.Keys(n.ws)) {
		for _, typ := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
			got, want := n.outside(n.ws[name], typ), wantOut[name][typ]
			slices.Sort(want)
			want = slices.Compact(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s beyond the namespace's pods: got %q, want %q", name, typ, got, want)
			}
		}
	}
}

// TestNetPolEvaluation checks the evaluator itself on small cases, so a policy the
// evaluator misreads cannot pass the test above.
func TestNetPolEvaluation(t *testing.T) {
	pod := func(name string, port int32) workload {
		return workload{name: name, pod: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": name}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: port}}}}},
		}}
	}
	ws := map[string]workload{"a": pod("a", 1), "b": pod("b", 2)}
	const denyAll = `{metadata: {name: deny}, spec: {podSelector: {}, policyTypes: [Ingress, Egress]}}`
	const bIngressFromA = `{metadata: {name: b}, spec: {podSelector: {matchLabels: {app.kubernetes.io/name: b}}, policyTypes: [Ingress],
  ingress: [{from: [{podSelector: {matchLabels: {app.kubernetes.io/name: a}}}], ports: [{port: grpc}]}]}}`
	const aEgressToB = `{metadata: {name: a}, spec: {podSelector: {matchLabels: {app.kubernetes.io/name: a}}, policyTypes: [Egress],
  egress: [{to: [{podSelector: {matchLabels: {app.kubernetes.io/name: b}}}], ports: [{port: 2}]}]}}`
	const aEgressWrongPort = `{metadata: {name: a}, spec: {podSelector: {matchLabels: {app.kubernetes.io/name: a}}, policyTypes: [Egress],
  egress: [{to: [{podSelector: {matchLabels: {app.kubernetes.io/name: b}}}], ports: [{port: 3}]}]}}`
	const aEgressOtherNamespace = `{metadata: {name: a}, spec: {podSelector: {matchLabels: {app.kubernetes.io/name: a}}, policyTypes: [Egress],
  egress: [{to: [{namespaceSelector: {matchLabels: {team: x}}}]}]}}`

	for _, tc := range []struct {
		name     string
		policies []string
		want     []flow
	}{
		{"no policy: everything", nil, []flow{{"a", "a", 1}, {"a", "b", 2}, {"b", "a", 1}, {"b", "b", 2}}},
		{"deny all", []string{denyAll}, nil},
		{"ingress alone is not enough", []string{denyAll, bIngressFromA}, nil},
		{"ingress and egress", []string{denyAll, bIngressFromA, aEgressToB}, []flow{{"a", "b", 2}}},
		{"egress on another port", []string{denyAll, bIngressFromA, aEgressWrongPort}, nil},
		{"egress to another namespace only", []string{denyAll, bIngressFromA, aEgressOtherNamespace}, nil},
		{"egress isolation only", []string{aEgressToB}, []flow{{"a", "b", 2}, {"b", "a", 1}, {"b", "b", 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := netpol{ws: ws}
			for _, doc := range tc.policies {
				p, err := decodeStrict[networkingv1.NetworkPolicy]([]byte(doc))
				if err != nil {
					t.Fatal(err)
				}
				n.policies = append(n.policies, p)
			}
			if got := n.flows(); !slices.Equal(got, sortedFlows(tc.want)) {
				t.Errorf("flows %v, want %v", got, tc.want)
			}
		})
	}
	n := netpol{ws: ws}
	if got := n.outside(ws["a"], networkingv1.PolicyTypeEgress); !slices.Equal(got, []string{"anything"}) {
		t.Errorf("unisolated pod reaches %v, want anything", got)
	}
	var p networkingv1.NetworkPolicy
	if err := yaml.Unmarshal([]byte(aEgressOtherNamespace), &p); err != nil {
		t.Fatal(err)
	}
	n.policies = []*networkingv1.NetworkPolicy{&p}
	if got, want := n.outside(ws["a"], networkingv1.PolicyTypeEgress), []string{"namespaces(team=x) pods(all) all ports"}; !slices.Equal(got, want) {
		t.Errorf("outside %q, want %q", got, want)
	}
}
