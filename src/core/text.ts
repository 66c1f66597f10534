// Caption normalisation exactly as the reference code does it (docs/reference.md §3, ALBEF/AMC dataset/utils.py
// `pre_caption`). Every step mirrors one Python line, including its quirks: only runs of two or more
// whitespace characters collapse (a single tab or newline inside the text survives), and only '\n' at
// the end and ' ' at both ends are stripped.

/** The characters Python's `\s` matches in a str pattern (str.isspace()); JS `\s` differs (\x1c-\x1f, \x85, \ufeff). */
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const DELETED_PUNCTUATION = /[,.'!?"()*#:;~]/g;          // re.sub(r"([,.'!?\"()*#:;~])", '', ...)
const WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]{2,}`, 'g'); // re.sub(r"\s{2,}", ' ', ...)

/** Default word limit of the training and Flickr readers (docs/reference.md §3); RefCOCO+ evaluation uses 30 (docs/reference.md §4.2). */
export const DEFAULT_MAX_WORDS = 50;

/** The reference `pre_caption(caption, max_words)`: the text the model sees for a phrase. */
export function preCaption(caption: string, maxWords: number = DEFAULT_MAX_WORDS): string {
  let text = caption.toLowerCase().replace(DELETED_PUNCTUATION, '');
  text = text.replaceAll('-', ' ').replaceAll('/', ' ').replaceAll('<person>', 'person');
  text = text.replace(WHITESPACE_RUN, ' ');
  text = stripChars(text, '\n', false); // caption.rstrip('\n')
  text = stripChars(text, ' ', true);   // caption.strip(' ')
  const words = text.split(' ');
  if (words.length > maxWords) text = words.slice(0, maxWords).join(' ');
  return text;
}

function stripChars(text: string, ch: string, bothEnds: boolean): string {
  let start = 0;
  let end = text.length;
  while (end > start && text[end - 1] === ch) end--;
  if (bothEnds) while (start < end && text[start] === ch) start++;
  return text.slice(start, end);
}
