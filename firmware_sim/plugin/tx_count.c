/*
 * tx_count.c - QEMU TCG plugin (plugin API v1, QEMU 7.2) that counts the
 * guest instructions a Cortex-M program executes between marker calls.
 *
 * The guest calls tx_sample_begin/end and tx_stage_begin/end (empty
 * noinline functions). tinyexit passes their addresses as plugin arguments;
 * every time the guest reaches one, the plugin appends one record with the
 * running totals of every counter to the output file. Differences between
 * records give exact per-stage counts.
 *
 * Counting: at translation time each translated block (TB) is decoded once
 * (Thumb-2, ARMv7-M / ARMv8-M mainline) into per-class instruction counts.
 * At run time a callback at the start of each TB bumps the TB's execution
 * count; totals are sum(exec count x static counts), computed when a marker
 * is reached. A TB that contains a marker is split at the marker so the
 * instructions before it are counted before the snapshot and the rest after.
 * A TB runs to its end unless the guest faults (which tinyexit reports as an
 * error anyway), so the counts are exact. Conditional branches are always
 * the last instruction of a TB in QEMU's translator; whether one was taken
 * is found from the address of the next TB executed.
 *
 * Classes (see enum below) feed the timing model in firmware_sim/cycles.py;
 * the plugin itself knows nothing about cycles.
 *
 * Arguments (QEMU 7.2 form: -plugin tx_count.so,key=value,...):
 *   out=PATH              event file (required)
 *   sample_begin=ADDR     marker addresses (hex, Thumb bit ignored)
 *   sample_end=ADDR
 *   stage_begin=ADDR
 *   stage_end=ADDR
 *   op=ADDR               optional: the per-op marker of profiling builds
 *                         (codegen Options.op_markers), called before each
 *                         op of a stage and after its last
 *   check=on              also count every instruction with a per-instruction
 *                         inline counter (slow; tests compare the two)
 *   dump=PATH             write each decoded instruction and its classes
 *                         (tests compare them with objdump)
 *   profile=PATH          at exit, write every counted piece of code: u64 start
 *                         address, u64 executions, u64 conditional branches
 *                         taken (immediate, register), u32 per class per
 *                         execution (a flat profile; firmware_sim.qemu maps it
 *                         to functions)
 *
 * Event file: a 16-byte header "TXEV", u32 version, u32 number of counters,
 * u32 reserved; then records of u32 marker id, u32 reserved and one u64 per
 * counter, little-endian (the host's order; x86-64 and arm64 hosts).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qemu-plugin.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define TX_EVENT_VERSION 1u

/* Instruction classes. Keep in step with CLASSES in firmware_sim/cycles.py. */
enum {
    K_INSN,            /* every executed instruction */
    K_LOAD,            /* single loads: LDR/LDRB/LDRH/LDRSB/LDRSH, LDREX*, LDA*, VLDR.32 */
    K_STORE,           /* single stores: STR/STRB/STRH, STREX*, STL*, VSTR.32 */
    K_LS_AFTER_LOAD,   /* single load/store right after a single load in the same block */
    K_LSM,             /* multiple transfers: LDM/STM/PUSH/POP/LDRD/STRD/VLDM/VSTM/VPUSH/VPOP/VLDR.64/VSTR.64 */
    K_LSM_WORDS,       /* 32-bit words moved by those */
    K_MUL,             /* 32-bit multiplies: MUL, SMULxy, SMULWy, SMUAD, SMUSD, SMMUL, USAD8 */
    K_MAC,             /* 32-bit multiply-accumulates: MLA, MLS, SMLAxy, SMLAWy, SMLAD, SMLSD, SMMLA, SMMLS, USADA8 */
    K_MUL_LONG,        /* SMULL, UMULL */
    K_MAC_LONG,        /* SMLAL, UMLAL, UMAAL, SMLALxy, SMLALD, SMLSLD */
    K_DIV,             /* SDIV, UDIV */
    K_BR_IMM,          /* unconditional immediate branches: B, BL (always taken) */
    K_BR_REG,          /* unconditional register/load branches: BX, BLX, POP/LDM {pc}, LDR pc, MOV/ADD pc, TBB/TBH */
    K_BR_COND,         /* conditional branches: B<c>, CBZ, CBNZ, branches inside an IT block */
    K_BR_COND_TAKEN_IMM, /* ... of which taken, immediate target (run-time) */
    K_BR_COND_TAKEN_REG, /* ... of which taken, register target (run-time) */
    K_TABLE_BRANCH,    /* TBB, TBH */
    K_FP_MAC,          /* VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS */
    K_FP_DIV,          /* VDIV, VSQRT */
    K_FP,              /* other floating-point data processing and transfers */
    K_DSP,             /* instructions of the DSP extension (SIMD, saturating, halfword MACs, SXTB16, ...) */
    K_SIMD_MAC,        /* dual 16-bit MACs: SMLAD(X), SMLSD(X), SMUAD(X), SMUSD(X), SMLALD(X), SMLSLD(X) */
    K_SYS,             /* barriers, hints, MSR/MRS, CPS, BKPT, SVC, undefined */
    K_CHECK,           /* check=on: per-instruction inline count, must equal K_INSN */
    NCLASSES
};

static const char *const class_names[NCLASSES] = {
    "insn", "load", "store", "ls_after_load", "lsm", "lsm_words", "mul", "mac", "mul_long",
    "mac_long", "div", "br_imm", "br_reg", "br_cond", "br_cond_taken_imm", "br_cond_taken_reg",
    "table_branch", "fp_mac", "fp_div", "fp", "dsp", "simd_mac", "sys", "check",
};

enum { MARK_SAMPLE_BEGIN = 1, MARK_SAMPLE_END, MARK_STAGE_BEGIN, MARK_STAGE_END, MARK_OP, MARK_EXIT = 255 };
#define NMARKERS 5

/* One counted piece of a translated block: run as a whole every time. */
struct segment {
    uint64_t count;
    uint64_t vaddr;      /* first instruction, for profile=PATH */
    uint64_t taken[3];   /* conditional branch at its end taken: [1] immediate, [2] register */
    uint32_t stats[NCLASSES];
};

/* Per translated block: its first segment, and how it ends. */
struct block {
    struct segment *first;
    struct segment *last;
    uint64_t vaddr;
    uint64_t end;        /* address after the last instruction (fall-through) */
    int cond_kind;       /* last instruction is a conditional branch: 1 immediate, 2 register */
};

struct marker_hit {
    uint32_t id;
    struct segment *seg; /* the instructions from the marker to the next marker or block end */
};

static uint64_t marker_addr[NMARKERS];
static uint32_t marker_id[NMARKERS];
static int nmarkers;
static int out_fd = -1;
static FILE *dump_file;
static char *profile_path;
static int check_mode;

static struct segment **segments;
static size_t nsegments, capsegments;
static uint64_t cond_taken[3];
static uint64_t check_count;
static uint64_t pending_fallthrough;
static int pending_kind;
static struct segment *pending_segment;

/* ---------------------------------------------------------------- decoding */

struct decoded {
    uint32_t cls[NCLASSES];
    int branch;          /* 0 none, 1 immediate, 2 register */
    int is_single_load;
    int is_single_ls;
    int it_len;          /* >0 for an IT instruction: number of instructions it covers */
};

static int popcount16(uint32_t v)
{
    return __builtin_popcount(v & 0xFFFFu);
}

static void decode_coproc(uint32_t hw1, uint32_t hw2, struct decoded *d)
{
    uint32_t coproc = (hw2 >> 8) & 0xF;
    if (coproc != 10 && coproc != 11) {
        d->cls[K_SYS] = 1;
        return;
    }
    if ((hw1 & 0x0E00) == 0x0C00) {
        if ((hw1 & 0x01E0) == 0x0040) {
            d->cls[K_FP] = 1; /* VMOV between two core registers and FP registers */
            return;
        }
        uint32_t p = (hw1 >> 8) & 1, w = (hw1 >> 5) & 1, l = (hw1 >> 4) & 1;
        if (p == 1 && w == 0) { /* VLDR / VSTR */
            if (coproc == 11) {
                d->cls[K_LSM] = 1;
                d->cls[K_LSM_WORDS] = 2;
            } else {
                d->cls[l ? K_LOAD : K_STORE] = 1;
                d->is_single_ls = 1;
                d->is_single_load = (int)l;
            }
        } else { /* VLDM / VSTM / VPUSH / VPOP: imm8 counts words */
            d->cls[K_LSM] = 1;
            d->cls[K_LSM_WORDS] = hw2 & 0xFF;
        }
        return;
    }
    if ((hw1 & 0x0F00) == 0x0E00 && (hw2 & 0x10) == 0) {
        uint32_t opc1 = (hw1 >> 4) & 0xF, opc2 = hw1 & 0xF, opc3 = (hw2 >> 6) & 3;
        switch (opc1 & 0xB) {
        case 0x0: case 0x1: case 0x9: case 0xA:
            d->cls[K_FP_MAC] = 1;
            return;
        case 0x8:
            d->cls[K_FP_DIV] = 1;
            return;
        case 0xB:
            d->cls[(opc2 == 1 && opc3 == 3) ? K_FP_DIV : K_FP] = 1;
            return;
        default:
            d->cls[K_FP] = 1;
            return;
        }
    }
    d->cls[K_FP] = 1; /* VMOV core<->single, VMRS, VMSR, v8-M extras */
}

static void decode16(uint32_t hw, struct decoded *d)
{
    if ((hw & 0xF800) == 0x4800) {                    /* LDR (literal) */
        d->cls[K_LOAD] = 1;
    } else if ((hw & 0xF000) == 0x5000) {             /* load/store register offset */
        d->cls[((hw >> 9) & 7) <= 2 ? K_STORE : K_LOAD] = 1;
    } else if ((hw & 0xE000) == 0x6000 || (hw & 0xF000) == 0x8000 || (hw & 0xF000) == 0x9000) {
        d->cls[(hw & 0x0800) ? K_LOAD : K_STORE] = 1; /* immediate offset, halfword, SP-relative */
    } else if ((hw & 0xF000) == 0xC000) {             /* STM / LDM */
        d->cls[K_LSM] = 1;
        d->cls[K_LSM_WORDS] = (uint32_t)popcount16(hw & 0xFF);
        return;
    } else if ((hw & 0xFE00) == 0xB400) {             /* PUSH */
        d->cls[K_LSM] = 1;
        d->cls[K_LSM_WORDS] = (uint32_t)popcount16(hw & 0x1FF);
        return;
    } else if ((hw & 0xFE00) == 0xBC00) {             /* POP */
        d->cls[K_LSM] = 1;
        d->cls[K_LSM_WORDS] = (uint32_t)popcount16(hw & 0x1FF);
        if (hw & 0x100) {
            d->branch = 2;
        }
        return;
    } else if ((hw & 0xF500) == 0xB100) {             /* CBZ / CBNZ: always conditional */
        d->branch = 1;
        d->cls[K_BR_COND] = 1;
        return;
    } else if ((hw & 0xFF00) == 0xBF00) {             /* IT and hints */
        if (hw & 0xF) {
            d->it_len = 4 - __builtin_ctz(hw & 0xF);
        } else {
            d->cls[K_SYS] = 1;
        }
        return;
    } else if ((hw & 0xFF00) == 0xBE00 || (hw & 0xFFE8) == 0xB660) { /* BKPT, CPS */
        d->cls[K_SYS] = 1;
        return;
    } else if ((hw & 0xF000) == 0xD000) {             /* B<c>, UDF, SVC */
        uint32_t cond = (hw >> 8) & 0xF;
        if (cond >= 0xE) {
            d->cls[K_SYS] = 1;
        } else {
            d->branch = 1;
            d->cls[K_BR_COND] = 1;
        }
        return;
    } else if ((hw & 0xF800) == 0xE000) {             /* B */
        d->branch = 1;
        return;
    } else if ((hw & 0xFF00) == 0x4700) {             /* BX, BLX (register) */
        d->branch = 2;
        return;
    } else if ((hw & 0xFF00) == 0x4400 || (hw & 0xFF00) == 0x4600) { /* ADD/MOV high registers */
        if ((((hw >> 4) & 8) | (hw & 7)) == 15) {
            d->branch = 2;
        }
        return;
    } else if ((hw & 0xFFC0) == 0x4340) {             /* MULS */
        d->cls[K_MUL] = 1;
        return;
    } else {
        return;                                       /* data processing */
    }
    d->is_single_ls = 1;
    d->is_single_load = d->cls[K_LOAD] != 0;
}

static void decode32(uint32_t hw1, uint32_t hw2, struct decoded *d)
{
    uint32_t op1 = (hw1 >> 11) & 3;
    uint32_t op2 = (hw1 >> 4) & 0x7F;

    if (op1 == 1) {
        if ((op2 & 0x64) == 0x00) {                   /* load/store multiple */
            uint32_t opc = (hw1 >> 7) & 3;
            if (opc == 0 || opc == 3) {
                d->cls[K_SYS] = 1;
                return;
            }
            d->cls[K_LSM] = 1;
            d->cls[K_LSM_WORDS] = (uint32_t)popcount16(hw2);
            if (((hw1 >> 4) & 1) && (hw2 & 0x8000)) {
                d->branch = 2;
            }
        } else if ((op2 & 0x64) == 0x04) {            /* dual, exclusive, table branch */
            uint32_t o1 = (hw1 >> 7) & 3, o2 = (hw1 >> 4) & 3;
            if (o1 == 0 && o2 <= 1) {                 /* STREX / LDREX */
                d->cls[o2 ? K_LOAD : K_STORE] = 1;
            } else if (o1 == 1 && o2 <= 1) {
                uint32_t op3 = (hw2 >> 4) & 0xF;
                if (o2 == 1 && op3 <= 1) {            /* TBB / TBH */
                    d->cls[K_TABLE_BRANCH] = 1;
                    d->branch = 2;
                    return;
                }
                d->cls[o2 ? K_LOAD : K_STORE] = 1;    /* exclusive byte/halfword, acquire/release */
            } else {                                  /* LDRD / STRD */
                d->cls[K_LSM] = 1;
                d->cls[K_LSM_WORDS] = 2;
                return;
            }
            d->is_single_ls = 1;
            d->is_single_load = d->cls[K_LOAD] != 0;
        } else if ((op2 & 0x60) == 0x20) {            /* data processing (shifted register) */
            if (((hw1 >> 5) & 0xF) == 0x6) {
                d->cls[K_DSP] = 1;                    /* PKHBT / PKHTB */
            }
        } else {
            decode_coproc(hw1, hw2, d);
        }
        return;
    }

    if (op1 == 2) {
        if ((hw2 & 0x8000) == 0) {                    /* data processing (immediate) */
            if ((hw1 & 0x0200) && ((hw1 >> 4) & 0x17) == 0x12 && (hw2 & 0x70C0) == 0) {
                d->cls[K_DSP] = 1;                    /* SSAT16 / USAT16 */
            }
            return;
        }
        uint32_t o = (hw2 >> 12) & 7;                 /* branches and miscellaneous control */
        if (o & 1) {
            d->branch = 1;                            /* B.W (T4), BL */
        } else if ((o & 5) == 0 && ((hw1 >> 7) & 7) != 7) {
            d->branch = 1;                            /* B<c>.W */
            d->cls[K_BR_COND] = 1;
        } else {
            d->cls[K_SYS] = 1;                        /* MSR, MRS, hints, barriers, UDF */
        }
        return;
    }

    /* op1 == 3 */
    if ((op2 & 0x71) == 0x00) {                       /* store single */
        d->cls[K_STORE] = 1;
        d->is_single_ls = 1;
        return;
    }
    if ((op2 & 0x67) == 0x01 || (op2 & 0x67) == 0x03 || (op2 & 0x67) == 0x05) {
        uint32_t rt = (hw2 >> 12) & 0xF;
        if (rt == 15 && (op2 & 0x67) != 0x05) {
            d->cls[K_SYS] = 1;                        /* PLD, PLI and other memory hints */
            return;
        }
        d->cls[K_LOAD] = 1;
        d->is_single_ls = 1;
        d->is_single_load = 1;
        if (rt == 15) {
            d->branch = 2;                            /* LDR pc */
        }
        return;
    }
    if ((op2 & 0x67) == 0x07) {
        d->cls[K_SYS] = 1;
        return;
    }
    if ((op2 & 0x70) == 0x20) {                       /* data processing (register) */
        uint32_t a = (hw1 >> 4) & 0xF, b = (hw2 >> 4) & 0xF;
        if ((a & 8) == 0) {
            if ((b & 8) && ((a >> 1) & 3) == 1) {
                d->cls[K_DSP] = 1;                    /* SXTB16, SXTAB16, UXTB16, UXTAB16 */
            }
        } else if ((b & 8) == 0) {
            d->cls[K_DSP] = 1;                        /* parallel add/subtract */
        } else if ((a & 0xC) == 8 && (b & 0xC) == 8) {
            uint32_t x = a & 3, y = b & 3;
            if (x == 0 || (x == 2 && y == 0)) {
                d->cls[K_DSP] = 1;                    /* QADD, QSUB, QDADD, QDSUB, SEL */
            }
        }
        return;
    }
    if ((op2 & 0x78) == 0x30) {                       /* multiply, multiply-accumulate */
        uint32_t o = (hw1 >> 4) & 7, ra = (hw2 >> 12) & 0xF;
        d->cls[ra == 15 ? K_MUL : K_MAC] = 1;
        if (o != 0) {
            d->cls[K_DSP] = 1;
        }
        if (o == 2 || o == 4) {
            d->cls[K_SIMD_MAC] = 1;
        }
        if (o == 0 && ((hw2 >> 4) & 3) == 1) {
            d->cls[K_MUL] = 0;                        /* MLS has Ra */
            d->cls[K_MAC] = 1;
        }
        if (o == 6) {
            d->cls[K_MUL] = 0;                        /* SMMLS always accumulates */
            d->cls[K_MAC] = 1;
        }
        return;
    }
    if ((op2 & 0x78) == 0x38) {                       /* long multiply, divide */
        uint32_t o = (hw1 >> 4) & 7, b = (hw2 >> 4) & 0xF;
        if ((o == 1 || o == 3) && b == 0xF) {
            d->cls[K_DIV] = 1;
        } else if (o == 0 || o == 2) {
            d->cls[K_MUL_LONG] = 1;
        } else {
            d->cls[K_MAC_LONG] = 1;
            if (!(o == 4 && b == 0) && !(o == 6 && b == 0)) {
                d->cls[K_DSP] = 1;                    /* SMLALxy, SMLALD, SMLSLD, UMAAL */
            }
            if ((o == 4 || o == 5) && (b & 0xE) == 0xC) {
                d->cls[K_SIMD_MAC] = 1;
            }
        }
        return;
    }
    decode_coproc(hw1, hw2, d);
}

/* ------------------------------------------------------------- run time */

static void add_segment(struct segment *s)
{
    if (nsegments == capsegments) {
        capsegments = capsegments ? 2 * capsegments : 4096;
        segments = realloc(segments, capsegments * sizeof *segments);
        if (segments == NULL) {
            fprintf(stderr, "tx_count: out of memory\n");
            abort();
        }
    }
    segments[nsegments++] = s;
}

static void write_all(const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(out_fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

static void snapshot(uint32_t id)
{
    struct {
        uint32_t id;
        uint32_t reserved;
        uint64_t total[NCLASSES];
    } rec;
    memset(&rec, 0, sizeof rec);
    rec.id = id;
    for (size_t i = 0; i < nsegments; ++i) {
        const struct segment *s = segments[i];
        if (s->count == 0) {
            continue;
        }
        for (int c = 0; c < NCLASSES; ++c) {
            rec.total[c] += s->count * s->stats[c];
        }
    }
    rec.total[K_BR_COND_TAKEN_IMM] += cond_taken[1];
    rec.total[K_BR_COND_TAKEN_REG] += cond_taken[2];
    rec.total[K_CHECK] = check_count;
    write_all(&rec, sizeof rec);
}

static void block_exec(unsigned int vcpu, void *udata)
{
    struct block *b = udata;
    (void)vcpu;
    if (pending_kind && b->vaddr != pending_fallthrough) {
        cond_taken[pending_kind]++;
        pending_segment->taken[pending_kind]++;
    }
    pending_kind = b->cond_kind;
    pending_fallthrough = b->end;
    pending_segment = b->last;
    b->first->count++;
}

static void marker_exec(unsigned int vcpu, void *udata)
{
    struct marker_hit *m = udata;
    (void)vcpu;
    snapshot(m->id);
    m->seg->count++;
}

static void dump_insn(uint64_t vaddr, unsigned size, const struct decoded *d, int in_it)
{
    fprintf(dump_file, "%08llx %u", (unsigned long long)vaddr, size);
    for (int c = 1; c < NCLASSES; ++c) {
        if (d->cls[c]) {
            fprintf(dump_file, " %s=%u", class_names[c], d->cls[c]);
        }
    }
    if (d->branch) {
        fprintf(dump_file, " branch=%s", d->branch == 1 ? "imm" : "reg");
    }
    if (in_it) {
        fprintf(dump_file, " it");
    }
    fputc('\n', dump_file);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    struct block *b = calloc(1, sizeof *b);
    struct segment *seg = calloc(1, sizeof *seg);
    if (b == NULL || seg == NULL) {
        fprintf(stderr, "tx_count: out of memory\n");
        abort();
    }
    b->first = seg;
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    seg->vaddr = b->vaddr;
    add_segment(seg);

    int it_left = 0;
    int prev_load = 0;
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        size_t size = qemu_plugin_insn_size(insn);
        const uint8_t *bytes = qemu_plugin_insn_data(insn);

        for (int m = 0; m < nmarkers; ++m) {
            if (vaddr == marker_addr[m]) {
                struct marker_hit *hit = calloc(1, sizeof *hit);
                struct segment *next = calloc(1, sizeof *next);
                if (hit == NULL || next == NULL) {
                    fprintf(stderr, "tx_count: out of memory\n");
                    abort();
                }
                hit->id = marker_id[m];
                hit->seg = next;
                next->vaddr = vaddr;
                add_segment(next);
                seg = next;
                qemu_plugin_register_vcpu_insn_exec_cb(insn, marker_exec, QEMU_PLUGIN_CB_NO_REGS, hit);
            }
        }
        if (check_mode) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &check_count, 1);
        }

        struct decoded d;
        memset(&d, 0, sizeof d);
        /* The length comes from the first halfword: near the end of a page
         * QEMU's translator peeks at the next halfword and the plugin API
         * reports it as part of this instruction's data and size. */
        uint32_t hw1 = (uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8);
        size = (hw1 >> 11) >= 0x1D ? 4 : 2;
        if (size == 4) {
            uint32_t hw2 = (uint32_t)bytes[2] | ((uint32_t)bytes[3] << 8);
            decode32(hw1, hw2, &d);
        } else {
            decode16(hw1, &d);
        }
        int in_it = it_left > 0;
        if (in_it) {
            it_left--;
        }
        if (d.it_len) {
            it_left = d.it_len;
        }
        if (d.is_single_ls && prev_load) {
            d.cls[K_LS_AFTER_LOAD] = 1;
        }
        prev_load = d.is_single_load;
        if (d.branch) {
            if (in_it && !d.cls[K_BR_COND]) {
                d.cls[K_BR_COND] = 1;
            }
            if (d.cls[K_BR_COND]) {
                b->cond_kind = d.branch;
            } else {
                d.cls[d.branch == 1 ? K_BR_IMM : K_BR_REG] = 1;
            }
        } else {
            b->cond_kind = 0;
        }
        d.cls[K_INSN] = 1;
        for (int c = 0; c < NCLASSES; ++c) {
            seg->stats[c] += d.cls[c];
        }
        b->end = vaddr + size;
        if (dump_file) {
            dump_insn(vaddr, (unsigned)size, &d, in_it);
        }
    }
    b->last = seg;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, block_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void write_profile(void)
{
    FILE *f = fopen(profile_path, "wb");
    if (f == NULL) {
        fprintf(stderr, "tx_count: cannot write %s: %s\n", profile_path, strerror(errno));
        return;
    }
    uint32_t header[4] = {0x50585854u /* "TXXP" */, TX_EVENT_VERSION, NCLASSES, 0};
    fwrite(header, sizeof header, 1, f);
    for (size_t i = 0; i < nsegments; ++i) {
        const struct segment *s = segments[i];
        if (s->count == 0) {
            continue;
        }
        fwrite(&s->vaddr, sizeof s->vaddr, 1, f);
        fwrite(&s->count, sizeof s->count, 1, f);
        fwrite(&s->taken[1], sizeof s->taken[1], 2, f);
        fwrite(s->stats, sizeof s->stats, 1, f);
    }
    fclose(f);
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
    (void)id;
    (void)p;
    if (profile_path) {
        write_profile();
        free(profile_path);
        profile_path = NULL;
    }
    if (out_fd >= 0) {
        snapshot(MARK_EXIT);
        close(out_fd);
        out_fd = -1;
    }
    if (dump_file) {
        fclose(dump_file);
        dump_file = NULL;
    }
}

static int add_marker(const char *value, uint32_t id)
{
    char *end = NULL;
    unsigned long long addr = strtoull(value, &end, 0);
    if (end == value || *end != '\0' || nmarkers == NMARKERS) {
        return -1;
    }
    marker_addr[nmarkers] = addr & ~1ull;
    marker_id[nmarkers] = id;
    nmarkers++;
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv)
{
    const char *out = NULL;
    (void)info;
    for (int i = 0; i < argc; ++i) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        if (eq == NULL) {
            fprintf(stderr, "tx_count: argument '%s' is not key=value\n", arg);
            return -1;
        }
        size_t klen = (size_t)(eq - arg);
        const char *value = eq + 1;
        int bad = 0;
        if (klen == 3 && strncmp(arg, "out", 3) == 0) {
            out = value;
        } else if (klen == 12 && strncmp(arg, "sample_begin", 12) == 0) {
            bad = add_marker(value, MARK_SAMPLE_BEGIN);
        } else if (klen == 10 && strncmp(arg, "sample_end", 10) == 0) {
            bad = add_marker(value, MARK_SAMPLE_END);
        } else if (klen == 11 && strncmp(arg, "stage_begin", 11) == 0) {
            bad = add_marker(value, MARK_STAGE_BEGIN);
        } else if (klen == 9 && strncmp(arg, "stage_end", 9) == 0) {
            bad = add_marker(value, MARK_STAGE_END);
        } else if (klen == 2 && strncmp(arg, "op", 2) == 0) {
            bad = add_marker(value, MARK_OP);
        } else if (klen == 5 && strncmp(arg, "check", 5) == 0) {
            check_mode = strcmp(value, "on") == 0;
        } else if (klen == 7 && strncmp(arg, "profile", 7) == 0) {
            profile_path = strdup(value);
            bad = profile_path == NULL;
        } else if (klen == 4 && strncmp(arg, "dump", 4) == 0) {
            dump_file = fopen(value, "w");
            bad = dump_file == NULL;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "tx_count: bad argument '%s'\n", arg);
            return -1;
        }
    }
    if (out == NULL) {
        fprintf(stderr, "tx_count: missing out=PATH\n");
        return -1;
    }
    out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out_fd < 0) {
        fprintf(stderr, "tx_count: cannot open %s: %s\n", out, strerror(errno));
        return -1;
    }
    uint32_t header[4] = {0x56455854u /* "TXEV" */, TX_EVENT_VERSION, NCLASSES, 0};
    write_all(header, sizeof header);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
