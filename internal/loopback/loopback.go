// Package loopback tells whether an address or a Host header names this
// machine only: the test that keeps local surfaces (the chat page, the
// profiler) off the network and rejects DNS-rebinding Host headers.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host (a Host header or a host name, with or without
// a port) is localhost or a loopback IP.
func Host(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr reports whether a listening address host:port accepts connections
// from this machine only. An empty host means every interface.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && Host(host)
}
