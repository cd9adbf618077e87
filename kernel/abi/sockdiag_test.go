package abi

// The sock_diag structures join the layout check (TestStructuresMatchC).
func init() {
	layoutCases = append(layoutCases,
		layoutCase{header: "<linux/sock_diag.h>", program: "diag", ctype: "struct sock_diag_req", value: &SockDiagReq{}, size: SizeofSockDiagReq},
		layoutCase{header: "<linux/inet_diag.h>", program: "diag", ctype: "struct inet_diag_sockid", value: &InetDiagSockID{}, size: SizeofInetDiagSockID},
		layoutCase{header: "<linux/inet_diag.h>", program: "diag", ctype: "struct inet_diag_req_v2", value: &InetDiagReqV2{}, size: SizeofInetDiagReqV2},
		layoutCase{header: "<linux/inet_diag.h>", program: "diag", ctype: "struct inet_diag_msg", value: &InetDiagMsg{}, size: SizeofInetDiagMsg},
		layoutCase{header: "<linux/inet_diag.h>", program: "diag", ctype: "struct inet_diag_meminfo", value: &InetDiagMeminfo{}, size: SizeofInetDiagMeminfo},
		layoutCase{header: "<linux/unix_diag.h>", program: "diag", ctype: "struct unix_diag_req", value: &UnixDiagReq{}, size: SizeofUnixDiagReq},
		layoutCase{header: "<linux/unix_diag.h>", program: "diag", ctype: "struct unix_diag_msg", value: &UnixDiagMsg{}, size: SizeofUnixDiagMsg},
		layoutCase{header: "<linux/unix_diag.h>", program: "diag", ctype: "struct unix_diag_vfs", value: &UnixDiagVFS{}, size: SizeofUnixDiagVFS},
		layoutCase{header: "<linux/unix_diag.h>", program: "diag", ctype: "struct unix_diag_rqlen", value: &UnixDiagRQlen{}, size: SizeofUnixDiagRQlen},
	)
}
