package oci

import "github.com/sbx-dev/sbx/oci/spec"

// FeaturesDoc is the runtime's `features` output (runtime-spec features.md).
type FeaturesDoc struct {
	OCIVersionMin string            `json:"ociVersionMin"`
	OCIVersionMax string            `json:"ociVersionMax"`
	Hooks         []string          `json:"hooks"`
	MountOptions  []string          `json:"mountOptions"`
	Linux         FeaturesLinux     `json:"linux"`
	Annotations   map[string]string `json:"annotations"`
}

// FeaturesLinux is the Linux part of features.
type FeaturesLinux struct {
	Namespaces   []string `json:"namespaces"`
	Capabilities []string `json:"capabilities"`
}

// Features describes what sbx's OCI runtime implements.
func Features() FeaturesDoc {
	return FeaturesDoc{OCIVersionMin: "1.0.0", OCIVersionMax: spec.Version,
		Hooks:        []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions: []string{"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "mode"},
		Linux: FeaturesLinux{Namespaces: []string{"pid", "network", "ipc", "uts", "mount", "user"},
			Capabilities: []string{}},
		Annotations: map[string]string{"io.github.sbx.runtime": "sbx: a user-space kernel runs the container's system calls"}}
}
