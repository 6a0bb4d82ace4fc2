"""Markdown or plain-text articles and notes, including text copied from a web page.

Rules:

- Front matter (a leading "---" YAML block) gives title, author, url/source/link, tags.
- Page furniture is dropped line by line: navigation and calls to action ("Share",
  "Request an appointment", "Call now", "Subscribe", cookie banners, "... Reviews",
  "What our patients say", copyright lines), phone numbers, e-mail addresses, postal
  addresses (a street number and street word, or a UK/US postcode, with commas), page-title
  lines ("Article title | Site section") that repeat another line, and short lines that
  occur three times or more.
- A citation block (two or more "Key : value" lines such as Authors, Journal, Date of
  Publication, Pubmed Link, PMID, DOI, Keywords, with at least one of authors, journal,
  PubMed/PMID or DOI) becomes a reference, not posts. When the article text comes before it,
  everything after it is the page footer and is dropped. A "References" section, and short
  paragraphs holding a DOI or PMID with a year or "et al", also become references.
- Title: front matter, else the first line (a "#" heading or a line of at most 200
  characters, which is then not repeated as a post), else the first sentence.
- Headings are "#" lines; in text without any, a short line (at most 80 characters and 12
  words, capitalised, without closing punctuation) followed by text is a heading.
- Paragraphs are separated by blank lines; in text without blank lines every line is one.
  Lines of a paragraph are joined with a space when the line does not end a sentence.
  Structured abstracts are split at their labels ("RESULTS:", "CONCLUSIONS:").
  Bare citation numbers after a sentence ("... opinion. 1", "... diagnostic. 1, 2") are
  removed.
- Posts: a heading starts a new post when the current one has at least 300 characters,
  and always leads the text under it. Paragraphs and lists (a line ending in ":" keeps its
  list) are packed into posts of at most 700 characters; longer ones are split at sentence
  boundaries. A paragraph with an image is a post of its own (its text fits a caption).
- Kind: "article" when the text has a citation, DOI/PMID or a structured abstract;
  "notes" when at least a quarter of its blocks are list items; else "article".
- Status is always "complete": plain text carries no numbering to check.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from content.importers._common import (
    Draft,
    author_from,
    clean_tags,
    first_sentence_title,
    fit_post,
    front_matter,
    split_to_fit,
    tg_len,
)
from content.models import Author, Post, Reference, SourceKind

IMPORTED_FROM = "Markdown"
SOFT_MAX = 700
HEADING_BREAK_MIN = 300
TINY_POST = 120

_CTA = (
    r"home|menu|search|skip to (?:main )?content|share(?: this(?: page| article| post)?)?"
    r"(?: on \w+)?|print|e-?mail|tweet|pin it|back to top|read more|learn more|see more"
    r"|show more|load more|next|previous|prev|sign in|log ?in|sign up|subscribe(?: now)?"
    r"|newsletter|contact us|about us|privacy(?: policy| notice)?"
    r"|terms(?: (?:of|and) (?:use|service|conditions))?|cookie (?:policy|settings|preferences)"
    r"|accept(?: all)?(?: cookies)?|reject(?: all)?|manage (?:cookies|preferences)"
    r"|(?:make|book|request|schedule) an? (?:appointment|consultation)(?: online| now| today)?"
    r"|book (?:now|online)|call(?: us)?(?: now| today)?|get in touch|find a (?:doctor|clinic)"
    r"|find us|follow us(?: on .{1,30})?|like us on facebook|what our patients say|testimonials"
    r"|(?!(?:systematic|literature|narrative|peer|scoping|clinical|critical|case)\b)"
    r"(?:[\w-]+ ){0,3}reviews|related (?:articles|posts)"
    r"|advertisement|sponsored(?: content)?|facebook|twitter|linkedin|instagram|youtube"
    r"|whatsapp|print this page|download pdf|cite this(?: article)?|open in a new tab"
)
_FURNITURE_RES = (
    re.compile(rf"^(?:{_CTA})(?:\.\.\.|[\s!:…>»›|])*$", re.IGNORECASE),
    re.compile(r"^(?:©|\(c\)|copyright\b).{0,200}$|^.{0,150}all rights reserved\.?$", re.I),
    re.compile(
        r"^.{0,200}\bcookies?\b.{0,200}\b(?:accept|consent|we use|uses|agree)\b.{0,200}$"
        r"|^.{0,200}\b(?:we use|this (?:site|website) uses)\b.{0,100}\bcookies?\b.{0,200}$",
        re.IGNORECASE,
    ),
    re.compile(
        r"^(?:(?:tel|telephone|phone|call(?: us)?(?: now)?|fax|mobile)\s*[:.]?\s*)?"
        r"\+?\(?\d[\d\s().-]{5,}\d$",
        re.IGNORECASE,
    ),
    re.compile(r"^(?:e-?mail\s*:?\s*)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+$", re.IGNORECASE),
    re.compile(r"^[^>»›\n]{1,40}(?:\s[>»›/]\s[^>»›\n]{1,40}){2,}$"),
)
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")
_US_ZIP = re.compile(r",\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")
_STREET = re.compile(
    r"^\d+[A-Za-z]?\s+[\w .'-]{1,40}?\b(?:St|Street|Rd|Road|Ave|Avenue|Blvd|Boulevard|Lane|Ln"
    r"|Drive|Dr|Way|Place|Pl|Square|Sq|Court|Ct)\b\.?,"
)

_BIB_KEYS = {
    "author": "authors",
    "authors": "authors",
    "author(s)": "authors",
    "date": "date",
    "date of publication": "date",
    "publication date": "date",
    "published": "date",
    "year": "date",
    "journal": "journal",
    "journal of publication": "journal",
    "source": "source",
    "organisation": "affiliation",
    "organization": "affiliation",
    "affiliation": "affiliation",
    "affiliations": "affiliation",
    "pubmed": "pubmed",
    "pubmed link": "pubmed",
    "pmid": "pmid",
    "doi": "doi",
    "keywords": "keywords",
    "citation": "citation",
    "volume": "volume",
    "issue": "issue",
    "pages": "pages",
    "issn": "issn",
    "url": "url",
    "link": "url",
    "title": "title",
}
_BIB_STRONG = {"authors", "journal", "pubmed", "pmid", "doi"}
_FIELD_RE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ()]{0,40}?)\s*:\s*(?P<value>\S.*)$")
_DOI_RE = re.compile(r"\b(?:doi:\s*|https?://(?:dx\.)?doi\.org/)(?P<doi>10\.\d{4,9}/\S+)", re.I)
_PMID_RE = re.compile(
    r"\bPMID:?\s*(?P<pmid>\d{5,9})\b|(?:pubmed\.ncbi\.nlm\.nih\.gov|ncbi\.nlm\.nih\.gov/pubmed)"
    r"/(?P<pmid2>\d{5,9})",
    re.IGNORECASE,
)
_URL_RE = re.compile(r"https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]")
_REFERENCES_HEADING = re.compile(
    r"^(?:#{1,6}\s*)?(?:references|bibliography|sources|citations|works cited|further reading)"
    r"\s*:?\s*$",
    re.IGNORECASE,
)
_MD_HEADING_RE = re.compile(r"^#{1,6}[ \t]+(?P<text>\S.*)$")


def _md_heading(line: str) -> str | None:
    """The text of a '# Title #' heading (closing hashes dropped), or None."""
    m = _MD_HEADING_RE.match(line)
    if not m:
        return None
    return m.group("text").rstrip().rstrip("#").rstrip() or m.group("text").strip()


_LIST_ITEM = re.compile(
    r"^(?P<indent>\s*)(?:(?P<bullet>[-*+•])|(?P<num>\d{1,3})[.)])\s+(?P<text>.*)$"
)
_RULE = re.compile(r"^\s*(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,}|(?:=\s*){3,})$")
_CITATION_NUMBERS = re.compile(
    r"(?<=[.!?:;)])[ \t]+\d{1,2}(?:[ \t]*[,–-][ \t]*\d{1,2})*(?=[ \t]+[A-Z(]|[ \t]*$)"
)
_ABSTRACT_LABEL = re.compile(
    r"(?:(?<=^)|(?<=[.!?][ \t]))(?=(?:[A-Z]{3,}(?:[ \t]+(?:AND|&|OF|[A-Z]{3,}))*)[ \t]*:)"
)
_SENTENCE_PUNCT = '.!?:;…"”’)'


@dataclass
class _Block:
    kind: str  # "heading", "para", "item"
    text: str
    media: list[str] = field(default_factory=list)


@dataclass
class _Cleaned:
    lines: list[str]
    furniture: list[str] = field(default_factory=list)
    footer: int = 0
    bib: dict[str, str] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((k for k in range(1, min(len(lines), 200)) if lines[k].strip() == "---"), None)
    meta = front_matter(lines[1:end]) if end is not None else None
    if meta is None or end is None:
        return {}, text
    return meta, "\n".join(lines[end + 1 :])


def _is_address(line: str) -> bool:
    if len(line) > 120 or line.count(",") < 1:
        return False
    if _STREET.match(line):
        return True
    return line.count(",") >= 2 and bool(_UK_POSTCODE.search(line) or _US_ZIP.search(line))


def _is_furniture(line: str) -> bool:
    if len(line) > 400:
        return False
    return any(rx.match(line) for rx in _FURNITURE_RES) or _is_address(line)


def _bib_key(line: str) -> tuple[str, str] | None:
    m = _FIELD_RE.match(line.strip())
    if not m:
        return None
    key = re.sub(r"\s+", " ", m.group("key").strip().lower())
    canonical = _BIB_KEYS.get(key)
    return (canonical, m.group("value").strip()) if canonical else None


def _find_bib_block(lines: list[str]) -> tuple[int, int, dict[str, str]] | None:
    i = 0
    while i < len(lines):
        if _bib_key(lines[i]) is None:
            i += 1
            continue
        start = end = i
        fields: dict[str, str] = {}
        j = i
        while j < len(lines):
            stripped = lines[j].strip()
            if not stripped:
                j += 1
                continue
            kv = _bib_key(stripped)
            if kv is None:
                break
            fields.setdefault(kv[0], kv[1])
            end = j
            j += 1
        count = sum(1 for k in range(start, end + 1) if _bib_key(lines[k]) is not None)
        if count >= 2 and _BIB_STRONG & fields.keys():
            return start, end, fields
        i = end + 1
    return None


def _clustered_repeats(lines: list[str]) -> set[str]:
    """Short lines that occur three times within six lines ('Consultant Spine Surgeon' x3 in
    a staff box): page furniture. Repeats spread through a text (section headings) stay."""
    positions: dict[str, list[int]] = {}
    n = 0
    for line in lines:
        if not line:
            continue
        if len(line) <= 60:
            positions.setdefault(line, []).append(n)
        n += 1
    return {
        line
        for line, at in positions.items()
        if any(at[k + 2] - at[k] < 6 for k in range(len(at) - 2))
    }


def _clean_lines(lines: list[str]) -> _Cleaned:
    stripped = [line.strip() for line in lines]
    clustered = _clustered_repeats(stripped)
    all_lines = {s.casefold() for s in stripped if s}
    keep: list[str] = []
    furniture: list[str] = []
    for raw, line in zip(lines, stripped, strict=True):
        if not line:
            keep.append("")
            continue
        repeated = line in clustered and parse_list(line) is None and _bib_key(line) is None
        page_title = (
            " | " in line
            and len(line) <= 300
            and any(
                part.strip().casefold() in all_lines and part.strip() != line
                for part in line.split(" | ")
            )
        )
        if repeated or page_title or _is_furniture(line):
            furniture.append(line)
            continue
        keep.append(raw.rstrip())
    cleaned = _Cleaned(keep, furniture)
    block = _find_bib_block(keep)
    if block is not None:
        start, end, fields = block
        cleaned.bib = fields
        before = [s for s in keep[:start] if s.strip()]
        if len(before) >= 2:
            cleaned.footer = sum(1 for s in keep[end + 1 :] if s.strip())
            keep = keep[:start]
        else:
            keep = keep[:start] + keep[end + 1 :]
        cleaned.lines = keep
    cleaned.lines, cleaned.references = _take_references(cleaned.lines)
    return cleaned


def parse_list(line: str) -> re.Match[str] | None:
    return _LIST_ITEM.match(line)


def _reference_from(text: str) -> Reference:
    text = re.sub(r"^\s*(?:\[\d{1,3}\]|\d{1,3}[.)])\s*", "", text).strip()
    text = re.sub(r"^[-*+•]\s+", "", text)
    url_match = _URL_RE.search(text)
    url = url_match.group(0) if url_match else None
    doi = _DOI_RE.search(text)
    if url is None and doi:
        url = f"https://doi.org/{doi.group('doi').rstrip('.,;')}"
    pmid = _PMID_RE.search(text)
    if url is None and pmid:
        url = f"https://pubmed.ncbi.nlm.nih.gov/{pmid.group('pmid') or pmid.group('pmid2')}/"
    m = re.match(r"^(?P<authors>[^.]{3,200}?)\.\s+(?P<title>[^.]{10,300}[.?])\s", text)
    title = m.group("title").rstrip(".") if m else re.sub(r"\s*https?://\S+", "", text)
    title = title.strip() or text
    return Reference(title=title[:300], url=url, citation=text if text != title else None)


def _is_citation_paragraph(text: str) -> bool:
    if len(text) > 500 or not (_DOI_RE.search(text) or _PMID_RE.search(text)):
        return False
    return bool(re.search(r"\b(?:19|20)\d{2}\b|\bet al\b", text))


def _take_references(lines: list[str]) -> tuple[list[str], list[Reference]]:
    out: list[str] = []
    refs: list[Reference] = []
    in_refs = False
    for line in lines:
        stripped = line.strip()
        if _REFERENCES_HEADING.match(stripped):
            in_refs = True
            continue
        if in_refs:
            if _md_heading(stripped) is not None:
                in_refs = False
            elif stripped:
                if len(stripped) <= 600 and re.search(r"\w", stripped):
                    refs.append(_reference_from(stripped))
                continue
            else:
                continue
        if stripped and _is_citation_paragraph(stripped):
            refs.append(_reference_from(stripped))
            continue
        out.append(line)
    return out, refs


_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]{0,20}(?:\s[^<>]{0,300})?/?>")
_IMAGE = re.compile(r"!\[(?P<alt>[^\]\n]{0,300})\]\((?P<url>[^)\s]{1,2000})(?:\s+\"[^\"]*\")?\)")
_LINK = re.compile(r"\[(?P<text>[^\]\n]{1,500})\]\((?P<url>[^)\s]{1,2000})(?:\s+\"[^\"]*\")?\)")
_WIKI = re.compile(r"\[\[(?:[^\]|\n]{0,300}?\\?\|)?(?P<text>[^\]\n]{0,300})\]\]")


def _inline(text: str) -> tuple[str, list[str], int]:
    """Markdown inline syntax to plain text; returns text, image URLs, citation numbers cut."""
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
    text = _HTML_TAG.sub("", text)
    media = [m.group("url") for m in _IMAGE.finditer(text)]
    text = _IMAGE.sub("", text)
    text = _LINK.sub(
        lambda m: (
            m.group("url")
            if m.group("text").strip() == m.group("url")
            else f"{m.group('text')} ({m.group('url')})"
        ),
        text,
    )
    text = _WIKI.sub(lambda m: m.group("text"), text)
    text = re.sub(r"(\*\*|__)(?=\S)([^\n]{1,300}?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]{1,300}?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"`([^`\n]+)`", r"\1", text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>~])", r"\1", text)
    text, cut = _CITATION_NUMBERS.subn("", text)
    return text, media, cut


def _heading_like(line: str) -> bool:
    words = line.split()
    return (
        0 < len(line) <= 80
        and len(words) <= 12
        and line[-1] not in _SENTENCE_PUNCT + ","
        and (line[0].isupper() or line[0].isdigit())
        and bool(re.search(r"[A-Za-z]{2}", line))
        and _LIST_ITEM.match(line) is None
    )


def _blocks(lines: list[str]) -> tuple[list[_Block], int]:
    has_md_headings = any(_md_heading(line.strip()) is not None for line in lines)
    content_idx = [i for i, line in enumerate(lines) if line.strip()]
    blank_mode = any(
        not lines[k].strip() for a, b in itertools.pairwise(content_idx) for k in range(a + 1, b)
    )
    raw: list[tuple[str, str]] = []  # (kind, text); kinds: heading, line, item, blank
    in_fence = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            raw.append(("blank", ""))
            continue
        if in_fence:
            raw.append(("code", line.rstrip()))
            continue
        if not stripped or _RULE.match(stripped):
            raw.append(("blank", ""))
            continue
        heading = _md_heading(stripped)
        if heading is not None:
            raw.append(("heading", heading))
            continue
        stripped = re.sub(r"^(?:>\s?)+", "", stripped)
        item = _LIST_ITEM.match(line)
        if item:
            marker = f"{item.group('num')}." if item.group("num") else "•"
            raw.append(("item", f"{marker} {item.group('text').strip()}"))
            continue
        if raw and raw[-1][0] == "item" and line[:1] in (" ", "\t") and blank_mode:
            raw[-1] = ("item", f"{raw[-1][1]} {stripped}")
            continue
        raw.append(("line", stripped))

    cuts = 0
    blocks: list[_Block] = []
    para: list[str] = []
    para_media: list[str] = []

    def flush_para() -> None:
        nonlocal para, para_media
        if para or para_media:
            text = ""
            for piece in para:
                if not text:
                    text = piece
                elif text[-1] in _SENTENCE_PUNCT or piece[:1] in "•|":
                    text += "\n" + piece
                else:
                    text += " " + piece
            blocks.append(_Block("para", text, para_media))
        para, para_media = [], []

    for index, (kind, text) in enumerate(raw):
        if kind in ("blank",):
            flush_para()
            continue
        if kind == "code":
            para.append(text)
            continue
        clean, media, cut = _inline(text)
        cuts += cut
        clean = clean.strip()
        if kind == "heading":
            flush_para()
            if clean:
                blocks.append(_Block("heading", clean, media))
            elif media:
                blocks.append(_Block("para", "", media))
            continue
        if kind == "item":
            flush_para()
            blocks.append(_Block("item", clean, media))
            continue
        if not blank_mode:
            flush_para()
        if not has_md_headings and not para and _heading_like(clean):
            following = next((r for r in raw[index + 1 :] if r[0] != "blank"), None)
            alone = blank_mode is False or index + 1 >= len(raw) or raw[index + 1][0] == "blank"
            if (
                following is not None
                and alone
                and following[0] in ("line", "item")
                and not (following[0] == "line" and _heading_like(_inline(following[1])[0].strip()))
            ):
                blocks.append(_Block("heading", clean, media))
                continue
        if clean or media:
            para.append(clean)
            para_media.extend(media)
        if not blank_mode:
            flush_para()
    flush_para()
    return [b for b in blocks if b.text or b.media], cuts


def _without_repeated_paragraphs(blocks: list[_Block]) -> tuple[list[_Block], int]:
    """Drop paragraphs of 60 characters or more that repeat an earlier one word for word."""
    seen: set[str] = set()
    out: list[_Block] = []
    for block in blocks:
        key = re.sub(r"\s+", " ", block.text).strip().casefold()
        if block.kind == "para" and len(key) >= 60:
            if key in seen:
                continue
            seen.add(key)
        out.append(block)
    return out, len(blocks) - len(out)


def _units(blocks: list[_Block]) -> list[_Block]:
    """Headings, paragraphs and lists, with lists joined (and kept with a lead-in line)."""
    units: list[_Block] = []
    for block in blocks:
        if block.kind == "para":
            for part in _ABSTRACT_LABEL.split(block.text):
                if not part.strip():
                    continue
                last = units[-1] if units else None
                if last is not None and last.kind == "para" and last.text.endswith(":"):
                    last.text += "\n" + part.strip()
                else:
                    units.append(_Block("para", part.strip(), []))
            if units and block.media:
                units[-1].media.extend(block.media)
            elif block.media:
                units.append(_Block("para", "", block.media))
            continue
        if block.kind == "item":
            last = units[-1] if units else None
            if last is not None and last.kind == "list":
                last.text += "\n" + block.text
                last.media.extend(block.media)
                continue
            if last is not None and last.kind == "para" and last.text.endswith(":"):
                last.kind = "list"
                last.text += "\n" + block.text
                last.media.extend(block.media)
                continue
            units.append(_Block("list", block.text, list(block.media)))
            continue
        units.append(_Block(block.kind, block.text, list(block.media)))
    return units


def _pack(units: list[_Block]) -> list[Post]:
    posts: list[Post] = []
    current = ""
    heading = ""

    def flush() -> None:
        nonlocal current
        if current:
            posts.extend(fit_post(current))
        current = ""

    for unit in units:
        if unit.kind == "heading":
            if tg_len(current) >= HEADING_BREAK_MIN:
                flush()
            heading = f"{heading}\n{unit.text}" if heading else unit.text
            if unit.media:
                flush()
                posts.extend(fit_post(heading, unit.media))
                heading = ""
            continue
        text = f"{heading}\n{unit.text}".strip() if heading else unit.text
        heading = ""
        if unit.media:
            flush()
            posts.extend(fit_post(text, unit.media))
            continue
        if tg_len(text) > SOFT_MAX:
            flush()
            chunks = split_to_fit(text, SOFT_MAX)
            for chunk in chunks[:-1]:
                posts.extend(fit_post(chunk))
            current = chunks[-1] if chunks else ""
            continue
        candidate = f"{current}\n\n{text}" if current else text
        if tg_len(candidate) > SOFT_MAX:
            flush()
            current = text
        else:
            current = candidate
    if heading:
        current = f"{current}\n\n{heading}" if current else heading
    flush()
    return _merge_tiny(posts)


def _merge_tiny(posts: list[Post]) -> list[Post]:
    out: list[Post] = []
    for post in posts:
        prev = out[-1] if out else None
        if (
            prev is not None
            and not post.media
            and not prev.media
            and (tg_len(post.text) < TINY_POST or tg_len(prev.text) < TINY_POST)
            and tg_len(prev.text) + tg_len(post.text) + 2 <= SOFT_MAX
        ):
            out[-1] = Post(text=f"{prev.text}\n\n{post.text}", url=prev.url)
        else:
            out.append(post)
    return out


def _bib_reference(bib: dict[str, str], title: str) -> tuple[Reference, str | None]:
    authors_raw = bib.get("authors", "")
    sep = ";" if ";" in authors_raw else ","
    authors = [a.strip() for a in authors_raw.split(sep) if a.strip()]
    link = bib.get("pubmed") or bib.get("url")
    pmid = bib.get("pmid")
    if link and not pmid:
        m = _PMID_RE.search(link)
        pmid = (m.group("pmid") or m.group("pmid2")) if m else None
    doi = bib.get("doi")
    if not link and doi:
        m = _DOI_RE.search(doi) or _DOI_RE.search(f"doi:{doi}")
        link = f"https://doi.org/{m.group('doi')}" if m else None
    if not link and pmid:
        link = f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
    if link and not re.match(r"^https?://\S+$", link):
        link = None
    parts = [
        ", ".join(authors),
        bib.get("journal", ""),
        bib.get("date", ""),
        f"doi:{doi}" if doi and not doi.lower().startswith("doi") else (doi or ""),
        f"PMID: {pmid}" if pmid else "",
    ]
    citation = ". ".join(p.rstrip(".") for p in parts if p) + "."
    author_name = None
    if authors:
        author_name = ", ".join(authors) if len(authors) <= 3 else f"{authors[0]} et al."
    ref_title = bib.get("title") or title
    return Reference(title=ref_title[:300], url=link, citation=citation), author_name


def parse(text: str, source_name: str = "") -> list[Draft]:
    """Turn a Markdown or plain-text document into one draft."""
    meta, body = _front_matter(text)
    cleaned = _clean_lines(body.split("\n"))
    lines = cleaned.lines
    notes: list[str] = []

    title = meta.get("title", "") or cleaned.bib.get("title", "")
    content = [i for i, line in enumerate(lines) if line.strip()]
    first = content[0] if content else None
    if first is not None and len(content) > 1:
        line = lines[first].strip()
        heading = _md_heading(line)
        candidate = _inline(heading if heading is not None else line)[0].strip()
        if title and candidate.casefold() == title.casefold():
            lines = lines[:first] + lines[first + 1 :]
        elif not title and (
            heading is not None or (len(candidate) <= 200 and _LIST_ITEM.match(line) is None)
        ):
            title = candidate
            lines = lines[:first] + lines[first + 1 :]
    blocks, cuts = _blocks(lines)
    blocks, repeats = _without_repeated_paragraphs(blocks)
    if repeats:
        notes.append(f"{repeats} repeated paragraph(s) removed")
    posts = _pack(_units(blocks))
    if not title and posts:
        title = first_sentence_title(posts[0].text)
    if not title:
        title = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", source_name).replace("_", " ").strip()
    if not posts:
        return []

    references = list(cleaned.references)
    author = author_from(meta.get("author") or meta.get("authors"))
    url = meta.get("url") or meta.get("source") or meta.get("link") or None
    if cleaned.bib:
        reference, author_name = _bib_reference(cleaned.bib, title)
        references.insert(0, reference)
        if author_name and not (meta.get("author") or meta.get("authors")):
            author = Author(name=author_name)
        url = url or reference.url
        notes.append("citation block turned into a reference")
    if url and not re.match(r"^https?://\S+$", url):
        url = None
    if cleaned.furniture:
        shown = ", ".join(f"“{line[:40]}”" for line in cleaned.furniture[:3])
        more = ", …" if len(cleaned.furniture) > 3 else ""
        notes.append(
            f"{len(cleaned.furniture)} line(s) of page furniture dropped ({shown}{more}); "
            "check nothing of value went"
        )
    if cleaned.footer:
        notes.append(f"{cleaned.footer} line(s) after the citation block dropped as page footer")
    if cuts:
        notes.append(f"{cuts} bare citation number(s) removed from the text")
    if cleaned.references and not cleaned.bib:
        notes.append(f"{len(cleaned.references)} reference(s) taken from the text")

    item_blocks = sum(1 for b in blocks if b.kind == "item")
    abstract = any(
        re.search(r"\b(?:BACKGROUND|METHODS|RESULTS|CONCLUSIONS?)\s*:", b.text) for b in blocks
    )
    kind: SourceKind
    if cleaned.bib or references or abstract:
        kind = "article"
    elif blocks and item_blocks * 4 >= len(blocks):
        kind = "notes"
    else:
        kind = "article"
    tags = re.split(r"[,\s]+", meta.get("tags", "")) if meta.get("tags") else []
    return [
        Draft(
            title=title,
            posts=posts,
            author=author,
            url=url,
            kind=kind,
            imported_from=IMPORTED_FROM,
            status="complete",
            tags=clean_tags(tags),
            references=references,
            notes=notes,
        )
    ]
