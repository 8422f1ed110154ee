/* STSTNet's stem for training on a CPU: conv 3x3 (16 channels) -> ReLU -> BatchNorm batch statistics
 * -> 3x3/3 max pool (padding 1), forward and weight gradient, each one pass over the input.
 *
 * Every position's 16 channels live in one 64-byte vector (GCC/Clang vector extensions; one AVX-512
 * register, or two AVX2 ones), and NB neighbouring positions are computed together so their FMA
 * chains interleave. Nothing of conv-output size is written to memory: the backward pass computes
 * the conv again instead of reading it back. mer/models/ststnet_kernel.py compiles and calls it.
 *
 * Layouts: x is zero-padded NCHW, (n, cin, hp, wp) with hp = ho + 2 and wp >= wo + 2 rounded up so
 * that blocks of NB positions never read past a row; wt is (cin * 9, 16), tap-major; pooled, index
 * and the pooled gradient are (n, po, qo, 16); index holds the conv-output position i * wo + j of
 * each pooled maximum (the first in row-major order, as torch's max pool). */
#include <string.h>

#define C 16
#define NB 6
#define MAX_TAPS 64

typedef float v16 __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));
/* the same, for tensors' memory: torch aligns a tensor's start but not every row */
typedef float v16u __attribute__((vector_size(64), aligned(4)));
typedef int v16iu __attribute__((vector_size(64), aligned(4)));

static inline v16 blend(v16i mask, v16 a, v16 b) { return (v16)(((v16i)a & mask) | ((v16i)b & ~mask)); }

/* bias + conv at positions (i, j0 .. j0 + NB - 1) */
static inline void conv_block(const float *restrict x, int cin, int hp, int wp, int i, int j0,
                              const v16u *restrict w, v16 bias, v16 *restrict z) {
    for (int k = 0; k < NB; k++) z[k] = bias;
    int t = 0;
    for (int ci = 0; ci < cin; ci++)
        for (int kh = 0; kh < 3; kh++) {
            const float *row = x + ((long)ci * hp + i + kh) * wp + j0;
            for (int kw = 0; kw < 3; kw++, t++) {
                const v16 wv = w[t];
                for (int k = 0; k < NB; k++) z[k] += wv * row[k + kw];
            }
        }
}

/* stats[0:16] += sum of ReLU(conv), stats[16:32] += sum of its squares, over all samples and positions */
void stem_forward(const float *restrict xpad, int n, int cin, int hp, int wp, int wo,
                  const float *restrict wt, const float *restrict bias,
                  float *restrict pooled, int *restrict index, int po, int qo, double *restrict stats) {
    const int ho = hp - 2;
    const v16u *w = (const v16u *)wt;
    v16 b;
    memcpy(&b, bias, sizeof b);
    const v16 zero = b * 0, below = zero - 1; /* ReLU output is >= 0 > below */
    for (int s = 0; s < n; s++) {
        const float *x = xpad + (long)s * cin * hp * wp;
        v16u *pl = (v16u *)(pooled + (long)s * po * qo * C);
        v16iu *ix = (v16iu *)(index + (long)s * po * qo * C);
        for (int k = 0; k < po * qo; k++) {
            pl[k] = below;
            ix[k] = (v16i){0};
        }
        v16 s1 = zero, s2 = zero;
        for (int i = 0; i < ho; i++) {
            const int pi = (i + 1) / 3;
            for (int j0 = 0; j0 < wo; j0 += NB) {
                v16 z[NB];
                conv_block(x, cin, hp, wp, i, j0, w, b, z);
                for (int k = 0; k < NB; k++) {
                    const int j = j0 + k, pj = (j + 1) / 3;
                    if (j >= wo) break;
                    const v16 r = blend(z[k] > 0, z[k], zero);
                    s1 += r;
                    s2 += r * r;
                    if (pi < po && pj < qo) {
                        const v16i better = r > pl[pi * qo + pj];
                        pl[pi * qo + pj] = blend(better, r, pl[pi * qo + pj]);
                        ix[pi * qo + pj] = (better & (i * wo + j)) | (ix[pi * qo + pj] & ~better);
                    }
                }
            }
        }
        for (int c = 0; c < C; c++) {
            stats[c] += s1[c];
            stats[C + c] += s2[c];
        }
    }
}

/* Gradients of weight (gw, tap-major like wt) and bias given, per channel, the loss's derivative by
 * the sum of ReLU(conv) (a) and by the sum of its squares (b), and the pooled gradient gp (already
 * zero where the pooled value is not positive: ReLU passes nothing there). */
void stem_backward(const float *restrict xpad, int n, int cin, int hp, int wp, int wo,
                   const float *restrict wt, const float *restrict bias,
                   const float *restrict a, const float *restrict b_sq,
                   const float *restrict gp, const int *restrict index, int po, int qo,
                   double *restrict gw, double *restrict gb) {
    const int ho = hp - 2, taps = cin * 9;
    const v16u *w = (const v16u *)wt;
    v16 b, av, bv;
    memcpy(&b, bias, sizeof b);
    memcpy(&av, a, sizeof av);
    memcpy(&bv, b_sq, sizeof bv);
    const v16 zero = b * 0;
    v16 acc[MAX_TAPS];
    for (int s = 0; s < n; s++) {
        const float *x = xpad + (long)s * cin * hp * wp;
        const v16u *g_pool = (const v16u *)(gp + (long)s * po * qo * C);
        const v16iu *ix = (const v16iu *)(index + (long)s * po * qo * C);
        for (int t = 0; t < taps; t++) acc[t] = zero;
        v16 acc_b = zero;
        for (int i = 0; i < ho; i++) {
            const int pi = (i + 1) / 3;
            for (int j0 = 0; j0 < wo; j0 += NB) {
                v16 z[NB], g[NB];
                conv_block(x, cin, hp, wp, i, j0, w, b, z);
                for (int k = 0; k < NB; k++) {
                    const int j = j0 + k, pj = (j + 1) / 3;
                    g[k] = blend(z[k] > 0, av + bv * z[k], zero);
                    if (j >= wo)
                        g[k] = zero;
                    else if (pi < po && pj < qo)
                        g[k] += blend(ix[pi * qo + pj] == i * wo + j, g_pool[pi * qo + pj], zero);
                    acc_b += g[k];
                }
                int t = 0;
                for (int ci = 0; ci < cin; ci++)
                    for (int kh = 0; kh < 3; kh++) {
                        const float *row = x + ((long)ci * hp + i + kh) * wp + j0;
                        for (int kw = 0; kw < 3; kw++, t++) {
                            v16 sum = acc[t];
                            for (int k = 0; k < NB; k++) sum += g[k] * row[k + kw];
                            acc[t] = sum;
                        }
                    }
            }
        }
        for (int t = 0; t < taps; t++)
            for (int c = 0; c < C; c++) gw[t * C + c] += acc[t][c];
        for (int c = 0; c < C; c++) gb[c] += acc_b[c];
    }
}
