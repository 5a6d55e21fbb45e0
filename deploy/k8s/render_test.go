package k8s

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// overlays are the deployable directories, every overlays/<name> with a kustomization:
// each must build and pass every check, so a new overlay is tested without listing it.
func overlays(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("overlays/*/kustomization.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no overlays/*/kustomization.yaml (%v)", err)
	}
	dirs := make([]string, len(files))
	for i, f := range files {
		dirs[i] = filepath.ToSlash(filepath.Dir(f))
	}
	return dirs
}

// objects is one rendered overlay, decoded into the k8s.io/api types, by kind.
type objects struct {
	namespaces   []*corev1.Namespace
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	pdbs         []*policyv1.PodDisruptionBudget
	policies     []*networkingv1.NetworkPolicy
	// The Prometheus Operator's kinds, from components/monitoring.
	serviceMonitors []*monitoringv1.ServiceMonitor
	rules           []*monitoringv1.PrometheusRule
	// placed is kind/name → namespace of every namespaced object.
	placed map[string]string
}

// render builds overlay (a directory under deploy/k8s) with the kustomize API on a copy
// of the tree, so that files the dev overlay's secretGenerator reads (written by
// secrets.sh, git-ignored) can be stood in for by placeholders: the developer's real
// credentials are never read by the test.
func render(t *testing.T, overlay string) *objects {
	t.Helper()
	return renderWith(t, overlay)
}

// renderWith renders overlay with the given components (directories under deploy/k8s)
// added, as a deployer's kustomization that names the overlay and the components would.
func renderWith(t *testing.T, overlay string, components ...string) *objects {
	t.Helper()
	return renderBuild(t, overlay, build{components: components})
}

// build says how components are added to an overlay: listed in a deployer's
// kustomization that names the overlay as a resource, or (inside) in the overlay's own
// kustomization, where they come after the overlay's own generators and before its
// patches.
type build struct {
	components []string
	inside     bool
	// patches are files (name → content) listed after the patches of the kustomization
	// that lists the components, as an operator sets a component's values.
	patches map[string]string
}

func renderBuild(t *testing.T, overlay string, b build) *objects {
	t.Helper()
	root := t.TempDir()
	if err := copyTree(".", root); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, overlay)
	if err := writeGeneratorPlaceholders(dir); err != nil {
		t.Fatal(err)
	}
	if len(b.components) > 0 || len(b.patches) > 0 {
		k := types.Kustomization{TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
			Resources: []string{"../" + overlay}}
		if b.inside {
			data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			k = types.Kustomization{}
			if err := yaml.UnmarshalStrict(data, &k); err != nil {
				t.Fatal(err)
			}
		} else {
			dir = filepath.Join(root, "with-components")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range b.components {
			rel, err := filepath.Rel(dir, filepath.Join(root, c))
			if err != nil {
				t.Fatal(err)
			}
			k.Components = append(k.Components, filepath.ToSlash(rel))
		}
		for _, name := range slices.Sorted(maps.Keys(b.patches)) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(b.patches[name]), 0o644); err != nil {
				t.Fatal(err)
			}
			k.Patches = append(k.Patches, types.Patch{Path: name})
		}
		data, err := yaml.Marshal(k)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "kustomization.yaml"), data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlay, err)
	}
	objs := &objects{
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		services: map[string]*corev1.Service{}, statefulSets: map[string]*appsv1.StatefulSet{},
		deployments: map[string]*appsv1.Deployment{},
	}
	for _, r := range res.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := objs.add(doc); err != nil {
			t.Errorf("%s: %s/%s: %v", overlay, r.GetKind(), r.GetName(), err)
		}
	}
	return objs
}

// add decodes one document strictly (unknown or duplicate fields are errors) into the
// type of its kind; a kind the suite does not expect is an error too.
func (o *objects) add(doc []byte) error {
	var meta metav1.PartialObjectMetadata
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	if meta.Kind != "Namespace" {
		if o.placed == nil {
			o.placed = map[string]string{}
		}
		o.placed[meta.Kind+"/"+meta.Name] = meta.Namespace
	}
	switch gvk := meta.APIVersion + " " + meta.Kind; gvk {
	case "v1 Namespace":
		return decodeInto(doc, &o.namespaces)
	case "v1 ConfigMap":
		return decodeNamed(doc, o.configMaps)
	case "v1 Secret":
		return decodeNamed(doc, o.secrets)
	case "v1 Service":
		return decodeNamed(doc, o.services)
	case "apps/v1 StatefulSet":
		return decodeNamed(doc, o.statefulSets)
	case "apps/v1 Deployment":
		return decodeNamed(doc, o.deployments)
	case "policy/v1 PodDisruptionBudget":
		return decodeInto(doc, &o.pdbs)
	case "networking.k8s.io/v1 NetworkPolicy":
		return decodeInto(doc, &o.policies)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return decodeInto(doc, &o.serviceMonitors)
	case "monitoring.coreos.com/v1 PrometheusRule":
		return decodeInto(doc, &o.rules)
	default:
		return fmt.Errorf("unexpected kind %q", gvk)
	}
}

// object is what the decoders need of a k8s.io/api type.
type object interface{ GetName() string }

func decodeStrict[T any](doc []byte) (*T, error) {
	v := new(T)
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		return nil, err
	}
	return v, nil
}

func decodeInto[T any](doc []byte, list *[]*T) error {
	v, err := decodeStrict[T](doc)
	if err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

func decodeNamed[T any, P interface {
	*T
	object
}](doc []byte, m map[string]*T) error {
	v, err := decodeStrict[T](doc)
	if err != nil {
		return err
	}
	name := P(v).GetName()
	if _, dup := m[name]; dup {
		return fmt.Errorf("%s declared twice", name)
	}
	m[name] = v
	return nil
}

// copyTree copies the regular files under src to dst, leaving out generated credentials
// (any directory named secrets).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && d.Name() == "secrets":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// writeGeneratorPlaceholders writes a placeholder for every missing file a secret or
// ConfigMap generator of the kustomization in dir reads.
func writeGeneratorPlaceholders(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	var sources []string
	for _, g := range k.SecretGenerator {
		sources = append(sources, g.FileSources...)
	}
	for _, g := range k.ConfigMapGenerator {
		sources = append(sources, g.FileSources...)
	}
	for _, src := range sources {
		_, file, ok := strings.Cut(src, "=")
		if !ok {
			file = src
		}
		path := filepath.Join(dir, file)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte("placeholder\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// TestOverlaysDecodeStrictly is the basic gate: every overlay builds, and each of its
// objects decodes strictly into a known k8s.io/api type.
func TestOverlaysDecodeStrictly(t *testing.T) {
	for _, overlay := range overlays(t) {
		t.Run(overlay, func(t *testing.T) {
			o := render(t, overlay)
			if len(o.statefulSets) == 0 || len(o.deployments) == 0 || len(o.policies) == 0 {
				t.Fatalf("%s rendered no workloads or policies: %+v", overlay, o)
			}
		})
	}
}

// TestStrictDecodingRefusesMistakes shows the decoding gate can fail: a misspelt field,
// a duplicated key and an unknown kind are each refused.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"unknown field", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: gateway}
spec:
  template:
    spec:
      containers:
        - name: gateway
          imagePullPolicyy: Always
`},
		{"duplicate key", `
apiVersion: v1
kind: Service
metadata: {name: profiles}
spec:
  type: ClusterIP
  type: NodePort
`},
		{"unknown kind", `
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &objects{services: map[string]*corev1.Service{}, deployments: map[string]*appsv1.Deployment{}}
			if err := o.add([]byte(tc.doc)); err == nil {
				t.Fatalf("accepted:%s", tc.doc)
			}
		})
	}
}
