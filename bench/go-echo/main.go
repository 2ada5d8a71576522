// Command go-echo is the baseline of the RPC benchmark: a Unix-socket server that reads
// frames exactly as a Plugin Runner does (4-byte header, then the payload) and writes each
// one straight back (in one write, or in two: ECHO_SPLIT_WRITES). The distance between it
// and a real runner call is the protocol's own cost: decoding, the plugin, encoding, our
// client.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

func main() {
	path := strings.TrimPrefix(os.Getenv("APISIX_LISTEN_ADDRESS"), "unix:")
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(conn)
	}
}

// ECHO_SPLIT_WRITES=1: each frame goes back in two writes, header then payload, as the Go
// runner writes its answers; the reader wakes up twice per answer when they arrive apart.
var split = os.Getenv("ECHO_SPLIT_WRITES") == "1"

func serve(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 64*1024)
	for {
		if _, err := io.ReadFull(conn, buf[:4]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(buf[:4]) & 0xffffff)
		if 4+n > len(buf) {
			buf = append(buf[:4], make([]byte, n)...)
		}
		if _, err := io.ReadFull(conn, buf[4:4+n]); err != nil {
			return
		}
		if split {
			// as the Go runner v0.5.0 answers: the header, then the payload, in two writes
			if _, err := conn.Write(buf[:4]); err != nil {
				return
			}
			if _, err := conn.Write(buf[4 : 4+n]); err != nil {
				return
			}
		} else if _, err := conn.Write(buf[:4+n]); err != nil {
			return
		}
	}
}
