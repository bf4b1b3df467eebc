//go:build !linux

package loadgen

import "errors"

var errNetns = errors.New("loadgen: network namespaces (Config.Netns) exist on Linux only")

func checkNetns(string) error { return errNetns }

func enterNetns(string) error { return errNetns }
