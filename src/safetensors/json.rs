//! Reading the JSON of a safetensors header without building a tree: a cursor with the
//! few steps the header's schema needs (strings, non-negative integers, punctuation) and a
//! validating skip for values the schema does not use. Nothing is allocated but the strings
//! kept, so a header of n bytes costs O(n) memory whatever its shape; nesting deeper than
//! [`MAX_DEPTH`] is refused rather than recursed into. Strict RFC 8259 syntax.

/// Values nested deeper than this inside a skipped value are refused (the reference reader's
/// JSON parser, serde_json, stops at the same depth).
pub const MAX_DEPTH: usize = 128;

/// A position in the header's text.
pub struct Cursor<'a> {
    s: &'a [u8],
    /// The byte the cursor is at.
    pub i: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Cursor {
            s: text.as_bytes(),
            i: 0,
        }
    }

    /// What the cursor is looking at, for messages.
    pub fn what(&self) -> String {
        match self.s.get(self.i) {
            None => "the end of the header".into(),
            Some(&b) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Some(&b) => format!("byte 0x{b:02x}"),
        }
    }

    /// Skips whitespace.
    pub fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.s.len()
    }

    /// The next non-blank byte, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    /// Consumes `b` (after whitespace) or fails naming what was there instead.
    pub fn expect(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at byte {} of the header, found {}",
                b as char,
                self.i,
                self.what()
            ))
        }
    }

    /// After a member or an element: true for ',', false for the closing `close`.
    pub fn comma_or(&mut self, close: u8) -> Result<bool, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(&b) if b == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(format!(
                "expected ',' or '{}' at byte {} of the header, found {}",
                close as char,
                self.i,
                self.what()
            )),
        }
    }

    /// A non-negative integer that fits in u64.
    pub fn u64(&mut self) -> Result<u64, String> {
        self.ws();
        let start = self.i;
        while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let digits = &self.s[start..self.i];
        let bad = || format!("expected a non-negative integer at byte {start} of the header");
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return Err(bad());
        }
        if matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E')) {
            return Err(bad());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| {
                format!("the integer at byte {start} of the header does not fit in 64 bits")
            })
    }

    /// A number (any JSON number) or `null`, which reads as NaN.
    pub fn number_or_null(&mut self) -> Result<f64, String> {
        if self.peek() == Some(b'n') {
            self.word("null")?;
            return Ok(f64::NAN);
        }
        let start = self.i;
        self.number()?;
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("an invalid number at byte {start}"))
    }

    /// An object: `member` is called with the cursor after each key's ':' and must read
    /// the value.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let key = self.string(true)?;
            self.expect(b':')?;
            member(self, &key)?;
            if !self.comma_or(b'}')? {
                return Ok(());
            }
        }
    }

    /// An array: `element` is called at each element and must read it.
    pub fn array(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            if !self.comma_or(b']')? {
                return Ok(());
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("invalid \\u escape at byte {} of the header", self.i))?;
        self.i += 4;
        Ok(h)
    }

    /// A string, unescaped; `keep = false` validates it without building it.
    pub fn string(&mut self, keep: bool) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            if keep {
                // The header is valid UTF-8 and this run starts and ends at ASCII bytes.
                out.push_str(
                    std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?,
                );
            }
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = *self.s.get(self.i).ok_or("an unterminated string")?;
                    self.i += 1;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(format!(
                                        "an unpaired surrogate at byte {} of the header",
                                        self.i
                                    ));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(format!(
                                        "an unpaired surrogate at byte {} of the header",
                                        self.i
                                    ));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| {
                                format!("an unpaired surrogate at byte {} of the header", self.i)
                            })?
                        }
                        _ => {
                            return Err(format!(
                                "an invalid escape at byte {} of the header",
                                self.i - 1
                            ))
                        }
                    };
                    if keep {
                        out.push(c);
                    }
                }
                Some(_) => {
                    return Err(format!(
                        "a control character in a string at byte {} of the header",
                        self.i
                    ))
                }
                None => return Err("an unterminated string in the header".into()),
            }
        }
    }

    /// Skips one JSON value of any kind, checking its syntax, without keeping anything.
    pub fn skip_value(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("JSON nested deeper than {MAX_DEPTH} levels"));
        }
        match self.peek() {
            Some(b'"') => self.string(false).map(|_| ()),
            Some(b'{') => {
                self.i += 1;
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.string(false)?;
                    self.expect(b':')?;
                    self.skip_value(depth + 1)?;
                    if !self.comma_or(b'}')? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if !self.comma_or(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b't') => self.word("true"),
            Some(b'f') => self.word("false"),
            Some(b'n') => self.word("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(format!(
                "expected a JSON value at byte {} of the header, found {}",
                self.i,
                self.what()
            )),
        }
    }

    fn word(&mut self, w: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(())
        } else {
            Err(format!(
                "an invalid literal at byte {} of the header",
                self.i
            ))
        }
    }

    fn number(&mut self) -> Result<(), String> {
        let start = self.i;
        let bad = || format!("an invalid number at byte {start} of the header");
        let digits = |c: &mut Self| {
            let s = c.i;
            while matches!(c.s.get(c.i), Some(b'0'..=b'9')) {
                c.i += 1;
            }
            c.i - s
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(bad());
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(bad());
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(bad());
            }
        }
        Ok(())
    }
}

/// `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
