package abi

import "encoding/binary"

// IPC64Perm is struct ipc64_perm, the owner and mode of a System V IPC object
// (include/uapi/asm-generic/ipcbuf.h).
type IPC64Perm struct {
	Key  int32  `c:"key"`
	UID  uint32 `c:"uid"`
	GID  uint32 `c:"gid"`
	CUID uint32 `c:"cuid"`
	CGID uint32 `c:"cgid"`
	Mode uint32 `c:"mode"`
	Seq  uint16 `c:"seq"`
	_    uint16 // __pad2
	_    uint32 // alignment of __unused1
	_    [2]uint64
}

// SizeofIPC64Perm is sizeof(struct ipc64_perm).
const SizeofIPC64Perm = 48

// Encode writes p to b[:SizeofIPC64Perm] (padding zeroed).
func (p *IPC64Perm) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(p.Key))
	le.PutUint32(b[4:], p.UID)
	le.PutUint32(b[8:], p.GID)
	le.PutUint32(b[12:], p.CUID)
	le.PutUint32(b[16:], p.CGID)
	le.PutUint32(b[20:], p.Mode)
	le.PutUint16(b[24:], p.Seq)
	clear(b[26:SizeofIPC64Perm])
}

// Decode reads p from b[:SizeofIPC64Perm].
func (p *IPC64Perm) Decode(b []byte) {
	le := binary.LittleEndian
	p.Key, p.UID, p.GID = int32(le.Uint32(b[0:])), le.Uint32(b[4:]), le.Uint32(b[8:])
	p.CUID, p.CGID, p.Mode, p.Seq = le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint16(b[24:])
}

// ShmidDS is struct shmid64_ds of shmctl(2) on x86-64 (arch/x86/include/uapi/asm/shmbuf.h).
type ShmidDS struct {
	Perm   IPC64Perm `c:"shm_perm"`
	Segsz  uint64    `c:"shm_segsz"`
	Atime  int64     `c:"shm_atime"`
	Dtime  int64     `c:"shm_dtime"`
	Ctime  int64     `c:"shm_ctime"`
	Cpid   int32     `c:"shm_cpid"`
	Lpid   int32     `c:"shm_lpid"`
	Nattch uint64    `c:"shm_nattch"`
	_      [2]uint64 // __unused4, __unused5
}

// SizeofShmidDS is sizeof(struct shmid64_ds).
const SizeofShmidDS = 112

// Encode writes s to b[:SizeofShmidDS] (padding zeroed).
func (s *ShmidDS) Encode(b []byte) {
	le := binary.LittleEndian
	s.Perm.Encode(b)
	le.PutUint64(b[48:], s.Segsz)
	le.PutUint64(b[56:], uint64(s.Atime))
	le.PutUint64(b[64:], uint64(s.Dtime))
	le.PutUint64(b[72:], uint64(s.Ctime))
	le.PutUint32(b[80:], uint32(s.Cpid))
	le.PutUint32(b[84:], uint32(s.Lpid))
	le.PutUint64(b[88:], s.Nattch)
	clear(b[96:SizeofShmidDS])
}

// Decode reads s from b[:SizeofShmidDS].
func (s *ShmidDS) Decode(b []byte) {
	le := binary.LittleEndian
	s.Perm.Decode(b)
	s.Segsz, s.Atime, s.Dtime, s.Ctime = le.Uint64(b[48:]), int64(le.Uint64(b[56:])), int64(le.Uint64(b[64:])), int64(le.Uint64(b[72:]))
	s.Cpid, s.Lpid, s.Nattch = int32(le.Uint32(b[80:])), int32(le.Uint32(b[84:])), le.Uint64(b[88:])
}

// MsqidDS is struct msqid64_ds of msgctl(2) on x86-64 (include/uapi/asm-generic/msgbuf.h).
type MsqidDS struct {
	Perm   IPC64Perm `c:"msg_perm"`
	Stime  int64     `c:"msg_stime"`
	Rtime  int64     `c:"msg_rtime"`
	Ctime  int64     `c:"msg_ctime"`
	Cbytes uint64    `c:"msg_cbytes"`
	Qnum   uint64    `c:"msg_qnum"`
	Qbytes uint64    `c:"msg_qbytes"`
	Lspid  int32     `c:"msg_lspid"`
	Lrpid  int32     `c:"msg_lrpid"`
	_      [2]uint64 // __unused4, __unused5
}

// SizeofMsqidDS is sizeof(struct msqid64_ds).
const SizeofMsqidDS = 120

// Encode writes m to b[:SizeofMsqidDS] (padding zeroed).
func (m *MsqidDS) Encode(b []byte) {
	le := binary.LittleEndian
	m.Perm.Encode(b)
	le.PutUint64(b[48:], uint64(m.Stime))
	le.PutUint64(b[56:], uint64(m.Rtime))
	le.PutUint64(b[64:], uint64(m.Ctime))
	le.PutUint64(b[72:], m.Cbytes)
	le.PutUint64(b[80:], m.Qnum)
	le.PutUint64(b[88:], m.Qbytes)
	le.PutUint32(b[96:], uint32(m.Lspid))
	le.PutUint32(b[100:], uint32(m.Lrpid))
	clear(b[104:SizeofMsqidDS])
}

// Decode reads m from b[:SizeofMsqidDS].
func (m *MsqidDS) Decode(b []byte) {
	le := binary.LittleEndian
	m.Perm.Decode(b)
	m.Stime, m.Rtime, m.Ctime = int64(le.Uint64(b[48:])), int64(le.Uint64(b[56:])), int64(le.Uint64(b[64:]))
	m.Cbytes, m.Qnum, m.Qbytes = le.Uint64(b[72:]), le.Uint64(b[80:]), le.Uint64(b[88:])
	m.Lspid, m.Lrpid = int32(le.Uint32(b[96:])), int32(le.Uint32(b[100:]))
}

// SemidDS is struct semid64_ds of semctl(2) on x86-64 (include/uapi/asm-generic/sembuf.h).
type SemidDS struct {
	Perm  IPC64Perm `c:"sem_perm"`
	Otime int64     `c:"sem_otime"`
	_     uint64    // __unused1
	Ctime int64     `c:"sem_ctime"`
	_     uint64    // __unused2
	Nsems uint64    `c:"sem_nsems"`
	_     [2]uint64 // __unused3, __unused4
}

// SizeofSemidDS is sizeof(struct semid64_ds).
const SizeofSemidDS = 104

// Encode writes s to b[:SizeofSemidDS] (padding zeroed).
func (s *SemidDS) Encode(b []byte) {
	le := binary.LittleEndian
	s.Perm.Encode(b)
	le.PutUint64(b[48:], uint64(s.Otime))
	le.PutUint64(b[56:], 0)
	le.PutUint64(b[64:], uint64(s.Ctime))
	le.PutUint64(b[72:], 0)
	le.PutUint64(b[80:], s.Nsems)
	clear(b[88:SizeofSemidDS])
}

// Decode reads s from b[:SizeofSemidDS].
func (s *SemidDS) Decode(b []byte) {
	le := binary.LittleEndian
	s.Perm.Decode(b)
	s.Otime, s.Ctime, s.Nsems = int64(le.Uint64(b[48:])), int64(le.Uint64(b[64:])), le.Uint64(b[80:])
}

// Sembuf is struct sembuf of semop(2) and semtimedop(2) (include/uapi/linux/sem.h).
type Sembuf struct {
	Num uint16 `c:"sem_num"`
	Op  int16  `c:"sem_op"`
	Flg int16  `c:"sem_flg"`
}

// SizeofSembuf is sizeof(struct sembuf).
const SizeofSembuf = 6

// Encode writes s to b[:SizeofSembuf].
func (s *Sembuf) Encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], s.Num)
	binary.LittleEndian.PutUint16(b[2:], uint16(s.Op))
	binary.LittleEndian.PutUint16(b[4:], uint16(s.Flg))
}

// Decode reads s from b[:SizeofSembuf].
func (s *Sembuf) Decode(b []byte) {
	s.Num, s.Op, s.Flg = binary.LittleEndian.Uint16(b[0:]), int16(binary.LittleEndian.Uint16(b[2:])), int16(binary.LittleEndian.Uint16(b[4:]))
}

// Seminfo is struct seminfo, the answer of semctl's IPC_INFO and SEM_INFO
// (include/uapi/linux/sem.h).
type Seminfo struct {
	Semmap int32 `c:"semmap"`
	Semmni int32 `c:"semmni"`
	Semmns int32 `c:"semmns"`
	Semmnu int32 `c:"semmnu"`
	Semmsl int32 `c:"semmsl"`
	Semopm int32 `c:"semopm"`
	Semume int32 `c:"semume"`
	Semusz int32 `c:"semusz"`
	Semvmx int32 `c:"semvmx"`
	Semaem int32 `c:"semaem"`
}

// SizeofSeminfo is sizeof(struct seminfo).
const SizeofSeminfo = 40

// Encode writes s to b[:SizeofSeminfo].
func (s *Seminfo) Encode(b []byte) {
	for i, v := range [...]int32{s.Semmap, s.Semmni, s.Semmns, s.Semmnu, s.Semmsl, s.Semopm, s.Semume, s.Semusz, s.Semvmx, s.Semaem} {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
}

// Msginfo is struct msginfo, the answer of msgctl's IPC_INFO and MSG_INFO
// (include/uapi/linux/msg.h).
type Msginfo struct {
	Msgpool int32  `c:"msgpool"`
	Msgmap  int32  `c:"msgmap"`
	Msgmax  int32  `c:"msgmax"`
	Msgmnb  int32  `c:"msgmnb"`
	Msgmni  int32  `c:"msgmni"`
	Msgssz  int32  `c:"msgssz"`
	Msgtql  int32  `c:"msgtql"`
	Msgseg  uint16 `c:"msgseg"`
	_       uint16 // the structure's alignment
}

// SizeofMsginfo is sizeof(struct msginfo).
const SizeofMsginfo = 32

// Encode writes m to b[:SizeofMsginfo] (padding zeroed).
func (m *Msginfo) Encode(b []byte) {
	for i, v := range [...]int32{m.Msgpool, m.Msgmap, m.Msgmax, m.Msgmnb, m.Msgmni, m.Msgssz, m.Msgtql} {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	binary.LittleEndian.PutUint16(b[28:], m.Msgseg)
	binary.LittleEndian.PutUint16(b[30:], 0)
}

// Shminfo is struct shminfo64, the answer of shmctl's IPC_INFO (include/uapi/asm-generic/shmbuf.h).
type Shminfo struct {
	Shmmax uint64    `c:"shmmax"`
	Shmmin uint64    `c:"shmmin"`
	Shmmni uint64    `c:"shmmni"`
	Shmseg uint64    `c:"shmseg"`
	Shmall uint64    `c:"shmall"`
	_      [4]uint64 // __unused1..4
}

// SizeofShminfo is sizeof(struct shminfo64).
const SizeofShminfo = 72

// Encode writes s to b[:SizeofShminfo] (the unused words zeroed).
func (s *Shminfo) Encode(b []byte) {
	for i, v := range [...]uint64{s.Shmmax, s.Shmmin, s.Shmmni, s.Shmseg, s.Shmall} {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	clear(b[40:SizeofShminfo])
}

// ShmInfo is struct shm_info, the answer of shmctl's SHM_INFO (include/uapi/linux/shm.h).
type ShmInfo struct {
	UsedIDs       int32  `c:"used_ids"`
	_             int32  // alignment of shm_tot
	ShmTot        uint64 `c:"shm_tot"`
	ShmRss        uint64 `c:"shm_rss"`
	ShmSwp        uint64 `c:"shm_swp"`
	SwapAttempts  uint64 `c:"swap_attempts"`
	SwapSuccesses uint64 `c:"swap_successes"`
}

// SizeofShmInfo is sizeof(struct shm_info).
const SizeofShmInfo = 48

// Encode writes s to b[:SizeofShmInfo] (padding zeroed).
func (s *ShmInfo) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(s.UsedIDs))
	binary.LittleEndian.PutUint32(b[4:], 0)
	for i, v := range [...]uint64{s.ShmTot, s.ShmRss, s.ShmSwp, s.SwapAttempts, s.SwapSuccesses} {
		binary.LittleEndian.PutUint64(b[8+8*i:], v)
	}
}
