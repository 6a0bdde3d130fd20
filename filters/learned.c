/* filters/learned.c: the learned signals, a logistic regression per dimension.
 *
 * How it works:
 *  - Features (learned_features): the subject and the new text are cut into
 *    words (letters and digits, lower-cased, digits read as 0, apostrophes
 *    dropped: the same for "won't" and "won’t"); every word and every pair of
 *    neighbouring words is a feature, subject ones prefixed "s:". Each unique
 *    feature is worth 1/sqrt(count), so every message has length 1 whatever
 *    its size. A feature's weight lives in one of LEARNED_BUCKETS slots
 *    chosen by its FNV-1a hash: inference is a sparse dot product.
 *  - Training (learned_train): stochastic gradient descent on the log loss
 *    with L2, the examples shuffled each pass by a fixed-seed generator, so
 *    the same corpus gives the same file.
 *  - Corrections (learned_model_correct): one gradient step towards the VA's
 *    label, its length capped, so a single poisoned correction cannot carry
 *    ordinary mail across a threshold on its own.
 *  - Scoring (learned_set_predict_text): the same sums without the feature
 *    names: one pass over each part hashes the words as they are read,
 *    grams are pairs of interned words made unique by number, and only
 *    those whose bucket may have a weight are sorted (by the first bytes of
 *    their names, the whole name on a tie), so the weights are added in the
 *    same order and the numbers are the same to the bit. Nothing is
 *    allocated per gram or per word: the work space is on the stack.
 *  - The seal (learned_set_seal): a copy of the set's weights with every
 *    model's weight of a bucket side by side, only for the ~52,000 buckets
 *    some model weighs (2 MB for the shipped models, beside their 10 MB of
 *    arrays). Scoring reads one cache line per gram instead of one per model,
 *    and one bitmap instead of five; a write to a model makes the seal stale
 *    and scoring reads the models' own arrays until it is sealed again.
 *
 * Entry points: learned_features, learned_model_parse/_to_text/_predict/
 * _explain/_correct, learned_train, learned_cross_validate, learned_set_*.
 * Must not: read files, the clock or the store; use global state.
 */
#include <math.h>
#include <string.h>
#include "filters/learned.h"

G_DEFINE_QUARK(keel-learned-error-quark, keel_learned_error)

static const char *const learned_names[LEARNED_COUNT] = { "risky", "tone", "threat", "payment",
                                                          "scope" };
static const char *const learned_signals[LEARNED_COUNT] = {
  "learned_risky", "learned_tone", "learned_threat", "learned_payment", "learned_scope" };

const char *learned_dimension_name(guint dimension)
{
  return dimension < LEARNED_COUNT ? learned_names[dimension] : NULL;
}

int learned_dimension_lookup(const char *name)
{
  for (guint i = 0; name && i < LEARNED_COUNT; i++)
    if (strcmp(name, learned_names[i]) == 0)
      return (int)i;
  return -1;
}

const char *learned_signal_name(guint dimension)
{
  return dimension < LEARNED_COUNT ? learned_signals[dimension] : NULL;
}

int learned_signal_lookup(const char *name)
{
  for (guint i = 0; name && i < LEARNED_COUNT; i++)
    if (strcmp(name, learned_signals[i]) == 0)
      return (int)i;
  return -1;
}

const char *learned_all_signal_names(void)
{
  return "learned_risky learned_tone learned_threat learned_payment learned_scope";
}

/* ---- features ---- */

guint32 learned_bucket(const char *feature)
{
  guint32 hash = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)feature; *p; p++)
    hash = (hash ^ *p) * 16777619u;
  return hash & (LEARNED_BUCKETS - 1);
}

/* What an ASCII byte is in a word: 0 ends a word (NUL too), 1 is skipped
 * (the apostrophe), else the byte written (lower case, digits as '0'). */
static const char learned_ascii[128] = {
  ['\''] = 1,
  ['0'] = '0', ['1'] = '0', ['2'] = '0', ['3'] = '0', ['4'] = '0',
  ['5'] = '0', ['6'] = '0', ['7'] = '0', ['8'] = '0', ['9'] = '0',
  ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g',
  ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n',
  ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u',
  ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z',
  ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g',
  ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n',
  ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u',
  ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z',
};

/* The weight of `bucket`, to be written: its maybe_weighed bit is set first,
 * so that every nonzero weight has its bit (a weight written back to 0
 * keeps it: the bit only says "look"). */
static inline double *learned_model_weigh(LearnedModel *model, guint32 bucket)
{
  model->sealed_by = NULL;
  model->maybe_weighed[bucket / 64] |= G_GUINT64_CONSTANT(1) << (bucket % 64);
  return &model->weights[bucket];
}

static inline gboolean learned_model_may_weigh(const LearnedModel *model, guint32 bucket)
{
  return (model->maybe_weighed[bucket / 64] >> (bucket % 64)) & 1;
}

/* ---- grams: the features of a message before they have names ----
 *
 * A gram is one word, or two neighbouring words, of the subject or of the
 * text. One pass over each part cuts it into words, writing each one's
 * bytes (lower-cased) once while three FNV-1a hashes run over them: the
 * 32-bit one of the word as a unigram's name (its bucket), the 32-bit one of
 * "PREVIOUS WORD" (the bigram's bucket, continued from the previous word's).
 * Words are interned (each distinct word of a part once: a table on the
 * first hash, the bytes compared when hashes agree), so a gram is a pair of
 * word numbers and grams are made unique by comparing numbers. A gram is
 * kept when some model of `keep` may have a weight in its bucket (every
 * gram for learned_features()), with the first 8 bytes of the name it would
 * have; kept grams are sorted by their first byte (counting), then by those
 * 8 bytes, then by the whole name on a tie (rare).
 * Only learned_features() writes names. It all lives in one LearnedGrams on
 * the caller's stack: nothing is allocated unless the words' bytes outgrow
 * it. */

#define LEARNED_FNV_BASIS 2166136261u
#define LEARNED_FNV_PRIME 16777619u
/* The words of the subject and of the text: at most 1,200, so a word's
 * number fits in 11 bits and a gram (subject bit, two numbers) in 23. */
#define LEARNED_MAX_MESSAGE_WORDS (2 * LEARNED_MAX_WORDS)
#define LEARNED_MAX_GRAMS (2 * LEARNED_MAX_MESSAGE_WORDS)
#define LEARNED_SLOT_BITS 11 /* tables of at most 2,048 slots: at most two thirds full */
#define LEARNED_NO_WORD 0x7FFFu
#define LEARNED_SUBJECT_BIT 0x8000u
G_STATIC_ASSERT(LEARNED_MAX_MESSAGE_WORDS < 2048);
G_STATIC_ASSERT(3 * LEARNED_MAX_MESSAGE_WORDS / 2 <= (1u << LEARNED_SLOT_BITS));

typedef struct {
  guint64 head;   /* its first 8 bytes, big-endian, 0 past its end */
  guint32 hash;   /* the FNV-1a 32 of its unigram's name (so a word of the subject and
                     the same word of the text are two words: their names differ) */
  guint32 start;  /* of its bytes in LearnedGrams.bytes (not NUL-terminated) */
  guint32 length;
  gboolean seen;  /* its unigram was found */
} LearnedWord;

typedef struct {
  guint64 head;   /* the name's first 8 bytes, big-endian, 0 past its end: orders as strcmp() */
  guint32 bucket; /* learned_bucket() of the name */
  guint16 first;  /* word number, | LEARNED_SUBJECT_BIT for a subject gram ("s:...") */
  guint16 second; /* word number, or LEARNED_NO_WORD for a unigram */
} LearnedGram;

typedef struct {
  gboolean keep_all;      /* keep every gram, else those some model may weigh: */
  const guint64 *keep_bits; /* borrowed, may be NULL: a fresh seal's bits (every model's) */
  const guint64 *maybe_weighed[LEARNED_COUNT]; /* borrowed: the models' bitmaps (one twice
                                                  for a missing model) */
  char *bytes;            /* the words' bytes: `stack`, or owned once it outgrew it; 8
                             bytes past the word being read may be read */
  gsize length, size;
  guint n_words, n_grams, n_kept; /* n_grams: the unique grams, kept or not */
  guint bits;             /* the tables have 1 << bits slots */
  LearnedWord words[LEARNED_MAX_MESSAGE_WORDS];
  guint16 word_slots[1u << LEARNED_SLOT_BITS]; /* word number + 1, 0 for free */
  guint32 pair_slots[1u << LEARNED_SLOT_BITS]; /* bigram (learned_pair()) + 1, 0 for free */
  LearnedGram kept[LEARNED_MAX_GRAMS];    /* in the order found */
  LearnedGram scratch[LEARNED_MAX_GRAMS]; /* for sorting */
  LearnedGram *sorted;                    /* borrowed: the kept grams sorted by name, in
                                             kept or in scratch */
  char stack[8192];
} LearnedGrams;

/* The word being read in one part, and the one before it. */
typedef struct {
  gboolean subject;
  guint32 basis;         /* FNV-1a 32 of the names' prefix: "" or "s:" */
  guint previous;        /* the previous word's number, or LEARNED_NO_WORD */
  guint32 previous_hash; /* the FNV-1a 32 of its unigram's name */
  guint words;           /* read so far */
  guint32 length, unigram, bigram; /* of the word being read: its hashes so far */
} LearnedReader;

static void learned_reader_start_word(LearnedReader *r)
{
  r->length = 0;
  r->unigram = r->basis;
  r->bigram = (r->previous_hash ^ ' ') * LEARNED_FNV_PRIME;
}

/* Room for `needed` bytes, the first `used` kept. */
static void learned_grams_grow(LearnedGrams *g, gsize used, gsize needed)
{
  gsize size = g->size;
  while (size < needed)
    size *= 2;
  if (g->bytes == g->stack)
    g->bytes = memcpy(g_malloc(size), g->stack, used);
  else
    g->bytes = g_realloc(g->bytes, size);
  g->size = size;
}

/* Appends byte `c` to the word being read, after the words' bytes. */
static inline void learned_reader_byte(LearnedGrams *g, LearnedReader *r, unsigned char c)
{
  if (G_UNLIKELY(g->length + r->length + 9 > g->size))
    learned_grams_grow(g, g->length + r->length, g->length + r->length + 9);
  g->bytes[g->length + r->length++] = (char)c;
  r->unigram = (r->unigram ^ c) * LEARNED_FNV_PRIME;
  r->bigram = (r->bigram ^ c) * LEARNED_FNV_PRIME;
}

/* The first 8 bytes of the `length` at `bytes` (8 may be read), big-endian,
 * 0 past the end. */
static inline guint64 learned_head(const char *bytes, guint32 length)
{
  guint64 head;
  memcpy(&head, bytes, sizeof head);
  head = GUINT64_FROM_BE(head);
  return length >= 8 ? head : head & ~(G_MAXUINT64 >> (8 * length));
}

/* Reads ASCII letters, digits and apostrophes from `p` on into the word
 * being read; returns where they end. */
static const unsigned char *learned_reader_ascii(LearnedGrams *g, LearnedReader *r,
                                                 const unsigned char *p)
{
  guint32 unigram = r->unigram, bigram = r->bigram;
  char *word = g->bytes + g->length, *end = word + r->length, *room = g->bytes + g->size - 9;
  for (;; p++) {
    char out = *p < 0x80 ? learned_ascii[*p] : 0;
    if (out == 0)
      break;
    if (out == 1)
      continue;
    if (G_UNLIKELY(end >= room)) {
      gsize length = (gsize)(end - word);
      learned_grams_grow(g, g->length + length, g->length + length + 10);
      word = g->bytes + g->length;
      end = word + length;
      room = g->bytes + g->size - 9;
    }
    *end++ = out;
    unigram = (unigram ^ (unsigned char)out) * LEARNED_FNV_PRIME;
    bigram = (bigram ^ (unsigned char)out) * LEARNED_FNV_PRIME;
  }
  r->length = (guint32)(end - word);
  r->unigram = unigram;
  r->bigram = bigram;
  return p;
}

/* The number of the word just read (its bytes after the others'), added if new. */
static guint learned_grams_intern(LearnedGrams *g, const LearnedReader *r)
{
  guint mask = (1u << g->bits) - 1;
  const char *bytes = g->bytes + g->length;
  for (guint i = (r->unigram * 0x9E3779B1u) >> (32 - g->bits);; i = (i + 1) & mask) {
    guint slot = g->word_slots[i];
    if (slot == 0) {
      g->words[g->n_words] = (LearnedWord){ learned_head(bytes, r->length), r->unigram,
                                            (guint32)g->length, r->length, FALSE };
      g->length += r->length;
      g->word_slots[i] = (guint16)++g->n_words;
      return g->n_words - 1;
    }
    const LearnedWord *word = &g->words[slot - 1];
    if (word->hash == r->unigram && word->length == r->length &&
        word->head == learned_head(bytes, r->length) &&
        (r->length <= 8 || memcmp(g->bytes + word->start + 8, bytes + 8, r->length - 8) == 0))
      return slot - 1;
  }
}

/* The first 8 bytes of a gram's name ("s:" for the subject, the words, one
 * space between two), big-endian, 0 past its end. */
static guint64 learned_gram_head(const LearnedGrams *g, guint first, guint second, gboolean subject)
{
  const LearnedWord *word = &g->words[first];
  guint64 head = word->head;
  if (second != LEARNED_NO_WORD && word->length < 8) {
    head |= (guint64)' ' << (56 - 8 * word->length);
    if (word->length < 7)
      head |= g->words[second].head >> (8 * (word->length + 1));
  }
  if (subject)
    head = (guint64)'s' << 56 | (guint64)':' << 48 | head >> 16;
  return head;
}

/* Whether a gram in `bucket` is kept: always, or when some model may have
 * a weight there (a gram kept whose weights are all 0 adds nothing: the
 * weights are not read here). */
static inline gboolean learned_grams_keep(const LearnedGrams *g, guint32 bucket)
{
  if (g->keep_all)
    return TRUE;
  if (g->keep_bits)
    return (g->keep_bits[bucket / 64] >> (bucket % 64)) & 1;
  guint64 bits = 0;
  for (guint m = 0; m < LEARNED_COUNT; m++)
    bits |= g->maybe_weighed[m][bucket / 64];
  return (bits >> (bucket % 64)) & 1;
}

/* Counts a new unique gram, and keeps it (learned_grams_keep()). */
static inline void learned_grams_found(LearnedGrams *g, guint32 hash, guint first, guint second,
                                       gboolean subject)
{
  guint32 bucket = hash & (LEARNED_BUCKETS - 1);
  g->n_grams++;
  if (!learned_grams_keep(g, bucket))
    return;
  g->kept[g->n_kept++] = (LearnedGram){ learned_gram_head(g, first, second, subject), bucket,
                                        (guint16)(first | (subject ? LEARNED_SUBJECT_BIT : 0)),
                                        (guint16)second };
}

/* A bigram as a number: the subject bit and the two words' numbers. */
static inline guint32 learned_pair(gboolean subject, guint first, guint second)
{
  return (guint32)subject << 22 | (guint32)first << 11 | (guint32)second;
}

/* The bigram `first second` of the part, unless it was found before. */
static void learned_grams_bigram(LearnedGrams *g, const LearnedReader *r, guint first, guint second)
{
  guint32 pair = learned_pair(r->subject, first, second);
  guint mask = (1u << g->bits) - 1;
  for (guint i = (pair * 0x9E3779B1u) >> (32 - g->bits);; i = (i + 1) & mask) {
    if (g->pair_slots[i] == pair + 1)
      return;
    if (g->pair_slots[i] == 0) {
      g->pair_slots[i] = pair + 1;
      learned_grams_found(g, r->bigram, first, second, r->subject);
      return;
    }
  }
}

/* Ends the word being read (if it has a byte): its unigram and its bigram
 * with the word before, each counted once. */
static void learned_reader_end_word(LearnedGrams *g, LearnedReader *r)
{
  if (r->length == 0)
    return;
  guint word = learned_grams_intern(g, r);
  if (!g->words[word].seen) {
    g->words[word].seen = TRUE;
    learned_grams_found(g, r->unigram, word, LEARNED_NO_WORD, r->subject);
  }
  if (r->previous != LEARNED_NO_WORD)
    learned_grams_bigram(g, r, r->previous, word);
  r->previous = word;
  r->previous_hash = r->unigram;
  r->words++;
  learned_reader_start_word(r);
}

/* A non-ASCII character at `p`: its length, or 0 when no valid character
 * starts there (g_utf8_make_valid() would write U+FFFD for that one byte
 * and read on from the next). */
static guint learned_utf8_length(const unsigned char *p)
{
  guint length = *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
  return g_utf8_validate_len((const char *)p, length, NULL) ? length : 0;
}

/* The words of one part, at most LEARNED_MAX_WORDS, read as the words of
 * g_utf8_make_valid(text) (so invalid UTF-8 is read in place): letters and
 * digits lower-cased, digits as '0', apostrophes (' and ’) dropped,
 * anything else between words. */
static void learned_grams_read(LearnedGrams *g, const char *text, gboolean subject)
{
  if (!text)
    return;
  LearnedReader r = { .subject = subject, .basis = LEARNED_FNV_BASIS, .previous = LEARNED_NO_WORD };
  if (subject)
    r.basis = (((LEARNED_FNV_BASIS ^ 's') * LEARNED_FNV_PRIME) ^ ':') * LEARNED_FNV_PRIME;
  learned_reader_start_word(&r);
  for (const unsigned char *p = (const unsigned char *)text; r.words < LEARNED_MAX_WORDS;) {
    if (*p < 0x80) { /* ASCII: the same answers as g_unichar_*(), much cheaper */
      if (learned_ascii[*p]) {
        p = learned_reader_ascii(g, &r, p);
        continue;
      }
      learned_reader_end_word(g, &r);
      if (!*p)
        break;
      p++;
      continue;
    }
    guint length = learned_utf8_length(p);
    if (length == 0) { /* U+FFFD: not a letter */
      learned_reader_end_word(g, &r);
      p++;
      continue;
    }
    gunichar c = g_utf8_get_char((const char *)p);
    p += length;
    if (c == 0x2019) /* ’, an apostrophe */
      continue;
    if (!g_unichar_isalnum(c)) {
      learned_reader_end_word(g, &r);
      continue;
    }
    char utf8[8];
    gint n = g_unichar_to_utf8(g_unichar_isdigit(c) ? '0' : g_unichar_tolower(c), utf8);
    for (gint i = 0; i < n; i++)
      learned_reader_byte(g, &r, (unsigned char)utf8[i]);
  }
}

/* At most how many words `text` has, for sizing the tables: a word and what
 * ends it take two bytes. */
static guint learned_most_words(const char *text)
{
  return text ? (guint)MIN(LEARNED_MAX_WORDS, (strnlen(text, 2 * LEARNED_MAX_WORDS) + 1) / 2) : 0;
}

/* Every unique gram of `subject` and `text` (either may be NULL); those
 * `keep` weighs (all when it is NULL) in `g->kept`, sorted by name. */
static void learned_grams_init(LearnedGrams *g, const LearnedSet *keep, const guint64 *keep_bits,
                               const char *subject, const char *text);

static void learned_grams_clear(LearnedGrams *g)
{
  if (g->bytes != g->stack)
    g_free(g->bytes);
}

/* A gram's name in (up to) four pieces: "s:", its first word, " ", its second. */
typedef struct {
  const char *text[4];
  guint32 length[4];
} LearnedName;

static void learned_gram_name_pieces(const LearnedGrams *g, const LearnedGram *gram,
                                     LearnedName *name)
{
  const LearnedWord *first = &g->words[gram->first & ~LEARNED_SUBJECT_BIT];
  gboolean bigram = gram->second != LEARNED_NO_WORD;
  const LearnedWord *second = bigram ? &g->words[gram->second] : first;
  *name = (LearnedName){ { "s:", g->bytes + first->start, " ", g->bytes + second->start },
                         { gram->first & LEARNED_SUBJECT_BIT ? 2 : 0, first->length,
                           bigram ? 1 : 0, bigram ? second->length : 0 } };
}

/* strcmp() of two names in pieces whose first `skip` bytes are the same
 * (both are at least that long). */
static int learned_name_compare(const LearnedName *a, const LearnedName *b, guint32 skip)
{
  guint i = 0, j = 0;
  guint32 x = skip, y = skip; /* the offset in piece i of a, piece j of b */
  for (; x > a->length[i]; i++)
    x -= a->length[i];
  for (; y > b->length[j]; j++)
    y -= b->length[j];
  for (;;) {
    for (; i < 4 && x == a->length[i]; i++)
      x = 0;
    for (; j < 4 && y == b->length[j]; j++)
      y = 0;
    if (i == 4 || j == 4)
      return (i < 4) - (j < 4);
    unsigned char ca = (unsigned char)a->text[i][x++], cb = (unsigned char)b->text[j][y++];
    if (ca != cb)
      return ca < cb ? -1 : 1;
  }
}

/* The name of `gram`, newly allocated. */
static char *learned_gram_name(const LearnedGrams *g, const LearnedGram *gram)
{
  LearnedName name;
  learned_gram_name_pieces(g, gram, &name);
  char *out = g_malloc(name.length[0] + name.length[1] + name.length[2] + name.length[3] + 1);
  char *end = out;
  for (guint i = 0; i < 4; i++) {
    memcpy(end, name.text[i], name.length[i]);
    end += name.length[i];
  }
  *end = '\0';
  return out;
}

static gint learned_compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* strcmp() order of two grams' names: their heads, then the whole names. */
static inline gboolean learned_gram_before(const LearnedGrams *g, const LearnedGram *a,
                                           const LearnedGram *b)
{
  if (a->head != b->head)
    return a->head < b->head;
  LearnedName x, y;
  learned_gram_name_pieces(g, a, &x);
  learned_gram_name_pieces(g, b, &y);
  return learned_name_compare(&x, &y, 8) < 0; /* equal heads: both at least 8 bytes long */
}

/* Sorts the `n` `items` by name by insertion (for a few). */
static inline void learned_insertion_sort(const LearnedGrams *g, LearnedGram *items, guint n)
{
  for (guint i = 1; i < n; i++) {
    LearnedGram item = items[i];
    guint j = i;
    for (; j > 0 && learned_gram_before(g, &item, &items[j - 1]); j--)
      items[j] = items[j - 1];
    items[j] = item;
  }
}

/* Sorts the `n` `items` by name: insertion for a few, else a merge sort
 * through `scratch` (as many). */
static void learned_merge_sort(const LearnedGrams *g, LearnedGram *items, LearnedGram *scratch,
                               guint n)
{
  if (n <= 16) {
    learned_insertion_sort(g, items, n);
    return;
  }
  guint half = n / 2;
  learned_merge_sort(g, items, scratch, half);
  learned_merge_sort(g, items + half, scratch, n - half);
  memcpy(scratch, items, half * sizeof *items);
  guint i = 0, j = half, k = 0;
  while (i < half && j < n)
    items[k++] = learned_gram_before(g, &items[j], &scratch[i]) ? items[j++] : scratch[i++];
  while (i < half)
    items[k++] = scratch[i++];
}

/* Sorts the kept grams by name into `g->sorted`: counted out by their first
 * byte into `g->scratch`, then each run of one first byte sorted (with
 * `g->kept` as the scratch). */
static void learned_grams_sort(LearnedGrams *g)
{
  if (g->n_kept <= 16) {
    learned_insertion_sort(g, g->kept, g->n_kept);
    g->sorted = g->kept;
    return;
  }
  guint starts[257] = { 0 };
  guint lo = 255, hi = 0; /* the first bytes seen */
  for (guint i = 0; i < g->n_kept; i++) {
    guint b = (guint)(g->kept[i].head >> 56);
    starts[b + 1]++;
    lo = MIN(lo, b);
    hi = MAX(hi, b);
  }
  for (guint b = lo + 1; b <= hi + 1; b++)
    starts[b] += starts[b - 1];
  guint next[256];
  memcpy(next + lo, starts + lo, (hi - lo + 1) * sizeof *next);
  for (guint i = 0; i < g->n_kept; i++)
    g->scratch[next[g->kept[i].head >> 56]++] = g->kept[i];
  for (guint b = lo; b <= hi; b++)
    if (starts[b + 1] - starts[b] > 1)
      learned_merge_sort(g, g->scratch + starts[b], g->kept, starts[b + 1] - starts[b]);
  g->sorted = g->scratch;
}

static void learned_grams_init(LearnedGrams *g, const LearnedSet *keep, const guint64 *keep_bits,
                               const char *subject, const char *text)
{
  g->keep_all = TRUE;
  g->keep_bits = keep_bits;
  for (guint m = 0; keep && m < LEARNED_COUNT; m++)
    if (keep->models[m]) {
      for (guint k = g->keep_all ? 0 : m; k < LEARNED_COUNT; k++)
        g->maybe_weighed[k] = keep->models[m]->maybe_weighed;
      g->keep_all = FALSE;
    }
  g->bytes = g->stack;
  g->length = 0;
  g->size = sizeof g->stack;
  g->n_words = g->n_grams = g->n_kept = 0;
  guint most = learned_most_words(subject) + learned_most_words(text);
  for (g->bits = 4; (1u << g->bits) < 3 * most / 2; g->bits++)
    ;
  memset(g->word_slots, 0, sizeof(g->word_slots[0]) << g->bits);
  memset(g->pair_slots, 0, sizeof(g->pair_slots[0]) << g->bits);
  learned_grams_read(g, subject, TRUE);
  learned_grams_read(g, text, FALSE);
  learned_grams_sort(g);
}

/* The features are the unique grams sorted by name. */
LearnedFeatures *learned_features(const char *subject, const char *text)
{
  LearnedGrams g;
  learned_grams_init(&g, NULL, NULL, subject, text);
  LearnedFeatures *features = g_new0(LearnedFeatures, 1);
  features->names = g_ptr_array_new_full(g.n_kept, g_free);
  features->buckets = g_array_sized_new(FALSE, FALSE, sizeof(guint32), g.n_kept);
  for (guint i = 0; i < g.n_kept; i++) {
    g_ptr_array_add(features->names, learned_gram_name(&g, &g.sorted[i]));
    g_array_append_val(features->buckets, g.sorted[i].bucket);
  }
  features->value = g.n_kept ? 1.0 / sqrt((double)g.n_kept) : 0;
  features->importance = 1;
  learned_grams_clear(&g);
  return features;
}

void learned_features_free(LearnedFeatures *features)
{
  if (!features)
    return;
  g_ptr_array_unref(features->names);
  g_array_unref(features->buckets);
  g_free(features);
}

/* ---- models ---- */

LearnedModel *learned_model_new(guint dimension)
{
  LearnedModel *model = g_new0(LearnedModel, 1);
  model->dimension = dimension;
  model->weights = g_new0(double, LEARNED_BUCKETS);
  model->maybe_weighed = g_new0(guint64, LEARNED_BUCKETS / 64);
  model->names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
  model->header = g_strdup("");
  return model;
}

LearnedModel *learned_model_copy(const LearnedModel *model)
{
  LearnedModel *copy = learned_model_new(model->dimension);
  copy->bias = model->bias;
  memcpy(copy->weights, model->weights, sizeof(double) * LEARNED_BUCKETS);
  memcpy(copy->maybe_weighed, model->maybe_weighed, sizeof(guint64) * (LEARNED_BUCKETS / 64));
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, model->names);
  while (g_hash_table_iter_next(&iter, &key, &value))
    g_hash_table_insert(copy->names, key, g_strdup(value));
  copy->pending_names = g_strdup(model->pending_names);
  g_free(copy->header);
  copy->header = g_strdup(model->header);
  return copy;
}

void learned_model_free(LearnedModel *model)
{
  if (!model)
    return;
  g_free(model->weights);
  g_free(model->maybe_weighed);
  g_hash_table_unref(model->names);
  g_free(model->pending_names);
  g_free(model->header);
  g_free(model);
}

static void learned_model_name(LearnedModel *model, guint32 bucket, const char *name);

/* Puts the names learned_model_parse() left pending into `names`. */
static void learned_model_resolve_names(LearnedModel *model)
{
  g_autofree char *pending = g_steal_pointer(&model->pending_names);
  for (char *name = pending, *end; name && *name; name = end + 1) {
    end = strchr(name, '\n');
    *end = '\0';
    learned_model_name(model, learned_bucket(name), name);
  }
}

/* Keeps the smallest name seen for `bucket` (stable whatever the order). */
static void learned_model_name(LearnedModel *model, guint32 bucket, const char *name)
{
  if (model->pending_names)
    learned_model_resolve_names(model);
  const char *old = g_hash_table_lookup(model->names, GUINT_TO_POINTER(bucket));
  if (!old || strcmp(name, old) < 0)
    g_hash_table_insert(model->names, GUINT_TO_POINTER(bucket), g_strdup(name));
}

void learned_model_add(LearnedModel *model, const char *name, double delta)
{
  guint32 bucket = learned_bucket(name);
  learned_model_weigh(model, bucket)[0] += delta;
  learned_model_name(model, bucket, name);
}

static double learned_logit(const LearnedModel *model, const LearnedFeatures *features)
{
  double sum = 0;
  const guint32 *buckets = (const guint32 *)(void *)features->buckets->data;
  for (guint i = 0; i < features->buckets->len; i++)
    sum += model->weights[buckets[i]];
  return model->bias + sum * features->value;
}

static double learned_sigmoid(double x)
{
  return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

double learned_model_predict(const LearnedModel *model, const LearnedFeatures *features)
{
  return learned_sigmoid(learned_logit(model, features));
}

/* ---- reading and writing model text ---- */

/* One "WEIGHT FEATURE" line into `model`; FALSE when it is not one. */
/* A number as the model files write it ("%.6f": "-0.123456") read exactly
 * as g_ascii_strtod() would, without its cost (a model has ~150,000 lines):
 * at most 15 digits are an exact integer in a double, 10^k is exact for
 * k <= 22, so one correctly rounded division gives the correctly rounded
 * value. Anything else (exponents, long numbers) goes to g_ascii_strtod(). */
/* The unsigned decimal at `p` (digits, maybe '.' and more digits, at most
 * 15 in all, so that the value is exact before its one division) into
 * `*value`; returns where it ends, or NULL when it is no such number. */
static inline const char *learned_parse_decimal(const char *p, double *value)
{
  static const double powers[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                   1e11, 1e12, 1e13, 1e14, 1e15 };
  guint64 mantissa = 0;
  guint digits = 0, decimals = 0;
  for (; g_ascii_isdigit(*p); p++, digits++)
    mantissa = mantissa * 10 + (guint64)(*p - '0');
  if (*p == '.')
    for (p++; g_ascii_isdigit(*p); p++, digits++, decimals++)
      mantissa = mantissa * 10 + (guint64)(*p - '0');
  if (digits == 0 || digits > 15)
    return NULL;
  *value = (double)mantissa / powers[decimals];
  return p;
}

static double learned_parse_number(const char *text, char **end)
{
  double value = 0;
  const char *p = learned_parse_decimal(text + (*text == '-' || *text == '+'), &value);
  if (p == NULL || (*p != ' ' && *p != '\0'))
    return g_ascii_strtod(text, end);
  *end = (char *)p;
  return *text == '-' ? -value : value;
}

/* The names of a model's weight lines, "NAME\n" each, for later
 * (learned_model_resolve_names): one buffer as long as the model text, so
 * that appending is a copy. */
typedef struct {
  char *text; /* owned, NUL-terminated by learned_model_parse() */
  gsize len;
} LearnedPendingNames;

/* One "WEIGHT FEATURE" line (ending at `line_end`) into `model`, its name
 * appended to `names`; FALSE when it is not one. */
static gboolean learned_parse_weight(LearnedModel *model, const char *line, const char *line_end,
                                     LearnedPendingNames *names)
{
  char *end = NULL;
  double weight = learned_parse_number(line, &end);
  if (end == line || *end != ' ' || end[1] == '\0' || !isfinite(weight))
    return FALSE;
  learned_model_weigh(model, learned_bucket(end + 1))[0] += weight;
  gsize length = (gsize)(line_end - (end + 1));
  memcpy(names->text + names->len, end + 1, length);
  names->len += length;
  names->text[names->len++] = '\n';
  return TRUE;
}

/* A "dimension NAME" or "bias NUMBER" line; FALSE when it is neither. */
static gboolean learned_parse_keyword(LearnedModel *model, const char *line, gboolean *named)
{
  if (line[0] != 'd' && line[0] != 'b') /* a weight line: most of them */
    return FALSE;
  if (g_str_has_prefix(line, "dimension ")) {
    int dimension = learned_dimension_lookup(line + 10);
    if (dimension < 0)
      return FALSE;
    model->dimension = (guint)dimension;
    *named = TRUE;
    return TRUE;
  }
  if (g_str_has_prefix(line, "bias ")) {
    char *end = NULL;
    model->bias = learned_parse_number(line + 5, &end);
    return end != line + 5 && *end == '\0' && isfinite(model->bias);
  }
  return FALSE;
}

/* A line "WEIGHT NAME" as the model files write them ("%.6f", one space,
 * the name, nothing after it but its '\n') into `model` in one pass, its
 * name appended to `names`. FALSE for any other line (nothing done), which
 * learned_parse_line() reads. `*next`: the next line, or NULL. */
static gboolean learned_parse_plain_weight(LearnedModel *model, const char *line,
                                           LearnedPendingNames *names, const char **next)
{
  double weight = 0;
  const char *p = learned_parse_decimal(line + (*line == '-'), &weight);
  if (p == NULL || *p != ' ' || p[1] == '\n' || p[1] == '\0')
    return FALSE;
  const char *feature = ++p;
  char *out = names->text + names->len;
  guint32 hash = LEARNED_FNV_BASIS;
  for (unsigned char c = (unsigned char)*p;; c = (unsigned char)*++p) {
    if (c <= '\n' && (c == '\n' || c == '\0')) /* one test for most bytes */
      break;
    *out++ = (char)c;
    hash = (hash ^ c) * LEARNED_FNV_PRIME;
  }
  if (g_ascii_isspace(p[-1])) /* learned_parse_line() drops it */
    return FALSE;
  learned_model_weigh(model, hash & (LEARNED_BUCKETS - 1))[0] += *line == '-' ? -weight : weight;
  *out++ = '\n';
  names->len += (gsize)(p - feature) + 1;
  *next = *p ? p + 1 : NULL;
  return TRUE;
}

/* Any line (`line`, a copy without its '\n', is changed): a comment into
 * `header`, a keyword or a weight into `model`. FALSE when it is none. */
static gboolean learned_parse_line(LearnedModel *model, char *line, GString *header,
                                   LearnedPendingNames *names, gboolean *named)
{
  char *end = line + strlen(line);
  while (end > line && g_ascii_isspace(end[-1])) /* g_strchomp(), knowing the end */
    end--;
  *end = '\0';
  if (line[0] == '\0')
    return TRUE;
  if (line[0] == '#') {
    g_string_append_printf(header, "%s%s", header->len ? "\n" : "",
                           line + (line[1] == ' ' ? 2 : 1));
    return TRUE;
  }
  return learned_parse_keyword(model, line, named) || learned_parse_weight(model, line, end, names);
}

LearnedModel *learned_model_parse(const char *text, const char *name, GError **error)
{
  g_autoptr(LearnedModel) model = learned_model_new(0);
  g_autoptr(GString) header = g_string_new(NULL);
  gsize text_length = strlen(text);
  /* each weight line gives at most itself (its name and "\n") */
  LearnedPendingNames names = { g_malloc(text_length + 1), 0 };
  g_autofree char *names_text = names.text;
  gboolean named = FALSE;
  /* Lines are read in place, not with g_strsplit(): it calls strstr() once a
   * line, which ASan checks over the whole rest of the text, so a 0.7 MB
   * model took 12 s to read under ASan (0.002 s this way). Weight lines
   * (all but a few) in one pass each; the others from a copy. */
  guint i = 0;
  for (const char *line = text; line; i++) {
    if (learned_parse_plain_weight(model, line, &names, &line))
      continue;
    const char *next = strchr(line, '\n');
    g_autofree char *copy = next ? g_strndup(line, (gsize)(next - line)) : g_strdup(line);
    line = next ? next + 1 : NULL;
    if (!learned_parse_line(model, copy, header, &names, &named)) {
      g_set_error(error, KEEL_LEARNED_ERROR, KEEL_LEARNED_ERROR_INVALID,
                  "%s:%u: expected `dimension NAME`, `bias NUMBER` or `WEIGHT FEATURE`", name,
                  i + 1);
      return NULL;
    }
  }
  if (!named) {
    g_set_error(error, KEEL_LEARNED_ERROR, KEEL_LEARNED_ERROR_INVALID,
                "%s: no `dimension` line (one of risky tone threat payment scope)", name);
    return NULL;
  }
  g_free(model->header);
  model->header = g_string_free(g_steal_pointer(&header), FALSE);
  names.text[names.len] = '\0';
  if (names.len)
    model->pending_names = g_steal_pointer(&names_text);
  return g_steal_pointer(&model);
}

static void learned_append_number(GString *out, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append(out, g_ascii_formatd(buffer, sizeof buffer, "%.6f", value));
}

static void learned_append_header(GString *out, const char *header)
{
  if (!header || !*header)
    return;
  g_auto(GStrv) lines = g_strsplit(header, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    g_string_append_printf(out, "# %s\n", lines[i]);
}

char *learned_model_to_text(const LearnedModel *model, const char *header)
{
  g_autoptr(LearnedModel) resolved = model->pending_names ? learned_model_copy(model) : NULL;
  if (resolved) {
    learned_model_resolve_names(resolved);
    model = resolved;
  }
  g_autoptr(GString) out = g_string_new(NULL);
  learned_append_header(out, header ? header : model->header);
  g_string_append_printf(out, "dimension %s\nbias ", learned_dimension_name(model->dimension));
  learned_append_number(out, model->bias);
  g_string_append_c(out, '\n');
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, model->names);
  while (g_hash_table_iter_next(&iter, &key, &value))
    if (fabs(model->weights[GPOINTER_TO_UINT(key)]) >= 5e-7)
      g_ptr_array_add(names, value);
  g_ptr_array_sort(names, learned_compare_names);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    learned_append_number(out, model->weights[learned_bucket(name)]);
    g_string_append_printf(out, " %s\n", name);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- explaining ---- */

static gint learned_compare_contribution(gconstpointer a, gconstpointer b)
{
  double x = ((const LearnedContribution *)a)->contribution;
  double y = ((const LearnedContribution *)b)->contribution;
  if (x != y)
    return x > y ? -1 : 1;
  return strcmp(((const LearnedContribution *)a)->name, ((const LearnedContribution *)b)->name);
}

void learned_model_explain(const LearnedModel *model, const LearnedFeatures *features, guint n,
                           LearnedContribution *for_out, guint *n_for,
                           LearnedContribution *against_out, guint *n_against)
{
  g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(LearnedContribution));
  for (guint i = 0; i < features->names->len; i++) {
    double weight = model->weights[g_array_index(features->buckets, guint32, i)];
    LearnedContribution c = { g_ptr_array_index(features->names, i), weight * features->value };
    if (weight != 0)
      g_array_append_val(all, c);
  }
  g_array_sort(all, learned_compare_contribution);
  *n_for = *n_against = 0;
  for (guint i = 0; i < all->len && *n_for < n; i++)
    if (g_array_index(all, LearnedContribution, i).contribution > 0)
      for_out[(*n_for)++] = g_array_index(all, LearnedContribution, i);
  for (guint i = all->len; i > 0 && *n_against < n; i--)
    if (g_array_index(all, LearnedContribution, i - 1).contribution < 0)
      against_out[(*n_against)++] = g_array_index(all, LearnedContribution, i - 1);
}

/* ---- corrections ---- */

/* The step of a correction, in log-odds: the gradient of the log loss
 * scaled by 4, capped at LEARNED_CORRECTION_CAP. */
static double learned_correction_step(const LearnedModel *model, const LearnedFeatures *features,
                                      gboolean label)
{
  double p = learned_model_predict(model, features);
  double step = 4.0 * ((label ? 1.0 : 0.0) - p);
  return CLAMP(step, -LEARNED_CORRECTION_CAP, LEARNED_CORRECTION_CAP);
}

double learned_model_correct(LearnedModel *model, const LearnedFeatures *features,
                             gboolean label, GHashTable *deltas)
{
  if (features->names->len == 0)
    return 0;
  double step = learned_correction_step(model, features, label);
  double delta = step * features->value; /* |delta vector| = |step| as the features have length 1 */
  for (guint i = 0; i < features->names->len; i++) {
    const char *name = g_ptr_array_index(features->names, i);
    learned_model_add(model, name, delta);
    if (!deltas)
      continue;
    double *sum = g_hash_table_lookup(deltas, name);
    if (!sum) {
      sum = g_new0(double, 1);
      g_hash_table_insert(deltas, g_strdup(name), sum);
    }
    *sum += delta;
  }
  return step;
}

/* ---- training ---- */

void learned_train_options_init(LearnedTrainOptions *options)
{
  options->epochs = 100;
  options->rate = 5;
  options->l2 = 1e-4;
  options->seed = 1;
  options->min_weight = 0.05;
  options->balance = TRUE;
}

/* splitmix64: a small generator whose sequence is fixed by its seed. */
static guint64 learned_random(guint64 *state)
{
  guint64 z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void learned_shuffle(guint *order, guint n, guint64 *state)
{
  for (guint i = n; i > 1; i--) {
    guint j = (guint)(learned_random(state) % i);
    guint swap = order[i - 1];
    order[i - 1] = order[j];
    order[j] = swap;
  }
}

/* One SGD step on example `x` with label `y` and weight `importance`. */
static void learned_sgd_step(LearnedModel *model, const LearnedFeatures *x, gboolean y,
                             double importance, double rate, double l2)
{
  double gradient = importance * (learned_model_predict(model, x) - (y ? 1.0 : 0.0));
  const guint32 *buckets = (const guint32 *)(void *)x->buckets->data;
  for (guint i = 0; i < x->buckets->len; i++) {
    double *w = learned_model_weigh(model, buckets[i]);
    *w -= rate * (gradient * x->value + l2 * *w);
  }
  model->bias -= rate * gradient * 0.1;
}

static void learned_train_names(LearnedModel *model, LearnedFeatures *const *examples, guint n)
{
  for (guint e = 0; e < n; e++)
    for (guint i = 0; i < examples[e]->names->len; i++)
      learned_model_name(model, g_array_index(examples[e]->buckets, guint32, i),
                         g_ptr_array_index(examples[e]->names, i));
}

LearnedModel *learned_train(guint dimension, LearnedFeatures *const *examples,
                            const gboolean *labels, guint n, const LearnedTrainOptions *options)
{
  LearnedModel *model = learned_model_new(dimension);
  double positives = 0, negatives = 0;
  for (guint i = 0; i < n; i++) {
    if (labels[i])
      positives += examples[i]->importance;
    else
      negatives += examples[i]->importance;
  }
  double positive_weight = options->balance && positives > 0 && negatives > 0
                           ? negatives / positives : 1.0;
  g_autofree guint *order = g_new(guint, MAX(n, 1));
  for (guint i = 0; i < n; i++)
    order[i] = i;
  guint64 state = options->seed;
  for (guint epoch = 0; epoch < options->epochs; epoch++) {
    learned_shuffle(order, n, &state);
    double rate = options->rate / (1.0 + epoch * 0.2);
    for (guint k = 0; k < n; k++) {
      guint i = order[k];
      learned_sgd_step(model, examples[i], labels[i],
                       examples[i]->importance * (labels[i] ? positive_weight : 1.0), rate,
                       options->l2);
    }
  }
  for (guint b = 0; b < LEARNED_BUCKETS; b++)
    if (fabs(model->weights[b]) < options->min_weight)
      model->weights[b] = 0;
  model->sealed_by = NULL;
  learned_train_names(model, examples, n);
  return model;
}

/* ---- evaluation ---- */

double learned_counts_precision(const LearnedCounts *c)
{
  return c->tp + c->fp ? (double)c->tp / (c->tp + c->fp) : 0;
}

double learned_counts_recall(const LearnedCounts *c)
{
  return c->tp + c->fn ? (double)c->tp / (c->tp + c->fn) : 0;
}

double learned_counts_f1(const LearnedCounts *c)
{
  return 2 * c->tp + c->fp + c->fn ? 2.0 * c->tp / (2 * c->tp + c->fp + c->fn) : 0;
}

static void learned_count(LearnedCounts *counts, gboolean predicted, gboolean label)
{
  if (predicted && label)
    counts->tp++;
  else if (predicted)
    counts->fp++;
  else if (label)
    counts->fn++;
  else
    counts->tn++;
}

/* Trains without group `held` and counts its predictions. */
static void learned_validate_group(guint dimension, LearnedFeatures *const *examples,
                                   const gboolean *labels, const guint *groups, guint n,
                                   guint held, const LearnedTrainOptions *options,
                                   double threshold, LearnedCounts *counts)
{
  g_autoptr(GPtrArray) train = g_ptr_array_new();
  g_autoptr(GArray) train_labels = g_array_new(FALSE, FALSE, sizeof(gboolean));
  for (guint i = 0; i < n; i++)
    if (groups[i] != held) {
      g_ptr_array_add(train, examples[i]);
      g_array_append_val(train_labels, labels[i]);
    }
  g_autoptr(LearnedModel) model = learned_train(dimension, (LearnedFeatures *const *)train->pdata,
                                                (const gboolean *)(void *)train_labels->data,
                                                train->len, options);
  for (guint i = 0; i < n; i++)
    if (groups[i] == held)
      learned_count(counts, learned_model_predict(model, examples[i]) >= threshold, labels[i]);
}

void learned_cross_validate(guint dimension, LearnedFeatures *const *examples,
                            const gboolean *labels, const guint *groups, guint n,
                            const LearnedTrainOptions *options, double threshold,
                            LearnedCounts *counts)
{
  memset(counts, 0, sizeof *counts);
  guint max_group = 0;
  for (guint i = 0; i < n; i++)
    if (groups[i] != LEARNED_GROUP_ALWAYS)
      max_group = MAX(max_group, groups[i]);
  for (guint g = 0; g <= max_group; g++)
    learned_validate_group(dimension, examples, labels, groups, n, g, options, threshold, counts);
}

/* ---- sets ---- */

/* Every model's weights side by side (learned_set_seal()). A bucket's row
 * is found by its rank among the buckets some model may weigh: `ranks` holds
 * the rows before each 64-bit word of `bits`, a popcount the rest. */
struct _LearnedSeal {
  const LearnedModel *models[LEARNED_COUNT]; /* borrowed: what it was made from (each one's
                                                sealed_by is this seal until it is written) */
  guint64 *bits;  /* owned, LEARNED_BUCKETS bits: the OR of the models' maybe_weighed */
  guint32 *ranks; /* owned, one per word of bits */
  double *rows;   /* owned, LEARNED_COUNT per row: each model's weight (0 without a bit,
                     or without a model) */
};

static void learned_seal_free(LearnedSeal *seal)
{
  if (!seal)
    return;
  g_free(seal->bits);
  g_free(seal->ranks);
  g_free(seal->rows);
  g_free(seal);
}

static inline guint32 learned_seal_row(const LearnedSeal *seal, guint32 bucket)
{
  guint64 below = seal->bits[bucket / 64] & ((G_GUINT64_CONSTANT(1) << (bucket % 64)) - 1);
  return seal->ranks[bucket / 64] + (guint32)__builtin_popcountll(below);
}

/* The set's seal if no model was written (or put in or taken out) since it
 * was made. */
static const LearnedSeal *learned_set_fresh_seal(const LearnedSet *set)
{
  const LearnedSeal *seal = set->seal;
  for (guint m = 0; seal && m < LEARNED_COUNT; m++)
    if (seal->models[m] != set->models[m] ||
        (set->models[m] && set->models[m]->sealed_by != seal))
      return NULL;
  return seal;
}

void learned_set_seal(LearnedSet *set)
{
  g_clear_pointer(&set->seal, learned_seal_free);
  LearnedSeal *seal = g_new0(LearnedSeal, 1);
  seal->bits = g_new0(guint64, LEARNED_BUCKETS / 64);
  seal->ranks = g_new(guint32, LEARNED_BUCKETS / 64);
  for (guint m = 0; m < LEARNED_COUNT; m++) {
    seal->models[m] = set->models[m];
    for (guint w = 0; set->models[m] && w < LEARNED_BUCKETS / 64; w++)
      seal->bits[w] |= set->models[m]->maybe_weighed[w];
  }
  guint32 rows = 0;
  for (guint w = 0; w < LEARNED_BUCKETS / 64; w++) {
    seal->ranks[w] = rows;
    rows += (guint32)__builtin_popcountll(seal->bits[w]);
  }
  seal->rows = g_new0(double, (gsize)rows * LEARNED_COUNT + 1);
  for (guint32 b = 0; b < LEARNED_BUCKETS; b++) {
    if (!((seal->bits[b / 64] >> (b % 64)) & 1))
      continue;
    double *row = seal->rows + (gsize)learned_seal_row(seal, b) * LEARNED_COUNT;
    for (guint m = 0; m < LEARNED_COUNT; m++)
      if (set->models[m] && learned_model_may_weigh(set->models[m], b))
        row[m] = set->models[m]->weights[b];
  }
  for (guint m = 0; m < LEARNED_COUNT; m++)
    if (set->models[m])
      set->models[m]->sealed_by = seal;
  set->seal = seal;
}

LearnedSet *learned_set_new(void)
{
  return g_new0(LearnedSet, 1);
}

void learned_set_free(LearnedSet *set)
{
  if (!set)
    return;
  for (guint i = 0; i < LEARNED_COUNT; i++)
    learned_model_free(set->models[i]);
  learned_seal_free(set->seal);
  g_free(set);
}

/* The sums of the kept grams' weights, model by model, in the grams' order. */
static void learned_sums(const LearnedSet *set, const LearnedSeal *seal, const LearnedGrams *g,
                         double sums[LEARNED_COUNT])
{
  for (guint m = 0; m < LEARNED_COUNT; m++)
    sums[m] = 0;
  if (seal) {
    /* A model without a weight in a row has 0 there, and adding 0 changes no
     * sum (which is never -0): the same numbers as the loop below. */
    for (guint i = 0; i < g->n_kept; i++) {
      const double *row = seal->rows + (gsize)learned_seal_row(seal, g->sorted[i].bucket) * LEARNED_COUNT;
      for (guint m = 0; m < LEARNED_COUNT; m++)
        sums[m] += row[m];
    }
    return;
  }
  for (guint m = 0; m < LEARNED_COUNT; m++) {
    const LearnedModel *model = set->models[m];
    /* A bucket without its bit weighs 0, and adding 0 changes no sum (which
     * is never -0): skipping it leaves the weight's cache line alone. */
    for (guint i = 0; model && i < g->n_kept; i++)
      if (learned_model_may_weigh(model, g->sorted[i].bucket))
        sums[m] += model->weights[g->sorted[i].bucket];
  }
}

void learned_set_predict_text(const LearnedSet *set, const char *subject, const char *text,
                              double out[LEARNED_COUNT])
{
  gboolean any = FALSE;
  for (guint i = 0; set && i < LEARNED_COUNT; i++)
    any |= set->models[i] != NULL;
  if (!any) {
    learned_set_predict(NULL, NULL, out);
    return;
  }
  const LearnedSeal *seal = learned_set_fresh_seal(set);
  LearnedGrams g;
  learned_grams_init(&g, set, seal ? seal->bits : NULL, subject, text);
  double value = g.n_grams ? 1.0 / sqrt((double)g.n_grams) : 0;
  double sums[LEARNED_COUNT];
  learned_sums(set, seal, &g, sums);
  for (guint m = 0; m < LEARNED_COUNT; m++)
    out[m] = set->models[m] ? learned_sigmoid(set->models[m]->bias + sums[m] * value) : NAN;
  learned_grams_clear(&g);
}

void learned_set_predict(const LearnedSet *set, const LearnedFeatures *features,
                         double out[LEARNED_COUNT])
{
  for (guint i = 0; i < LEARNED_COUNT; i++)
    out[i] = set && set->models[i] ? learned_model_predict(set->models[i], features) : NAN;
}
