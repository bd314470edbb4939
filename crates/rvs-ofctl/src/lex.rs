//! Splitting ovs-ofctl text into pieces that remember their byte offsets.

use crate::SyntaxError;

/// A piece of the input and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    pub pos: usize,
    pub text: &'a str,
}

impl<'a> Piece<'a> {
    pub fn err(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(self.pos, self.text.len(), message)
    }

    /// Splits `key=value`, `key:value` or `key(value)` at the first separator.
    pub fn key_value(&self) -> (Piece<'a>, Option<Piece<'a>>) {
        let Some(i) = self.text.find(['=', ':', '(']) else {
            return (*self, None);
        };
        let key = Piece {
            pos: self.pos,
            text: &self.text[..i],
        };
        let rest = &self.text[i + 1..];
        let value = if self.text.as_bytes()[i] == b'(' {
            rest.strip_suffix(')').unwrap_or(rest)
        } else {
            rest
        };
        (
            key,
            Some(Piece {
                pos: self.pos + i + 1,
                text: value,
            }),
        )
    }

    /// Splits at the first `=` only.
    pub fn split_eq(&self) -> (Piece<'a>, Option<Piece<'a>>) {
        match self.text.find('=') {
            Some(i) => (
                Piece {
                    pos: self.pos,
                    text: &self.text[..i],
                },
                Some(Piece {
                    pos: self.pos + i + 1,
                    text: &self.text[i + 1..],
                }),
            ),
            None => (*self, None),
        }
    }

    /// The sub-piece `text[start..end]`.
    pub fn slice(&self, start: usize, end: usize) -> Piece<'a> {
        let end = end.min(self.text.len());
        let start = start.min(end);
        Piece {
            pos: self.pos + start,
            text: self.text.get(start..end).unwrap_or(""),
        }
    }

    /// Splits at the first occurrence of `sep`.
    pub fn split_once(&self, sep: &str) -> Option<(Piece<'a>, Piece<'a>)> {
        let i = self.text.find(sep)?;
        Some((self.slice(0, i), self.slice(i + sep.len(), self.text.len())))
    }
}

/// Splits at commas and whitespace outside parentheses; empty pieces are dropped.
/// Unbalanced parentheses are an error pointing at the unmatched one.
pub(crate) fn split_top(whole: Piece<'_>) -> Result<Vec<Piece<'_>>, SyntaxError> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut open_at = 0usize;
    let mut start = 0usize;
    let bytes = whole.text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => {
                if depth == 0 {
                    open_at = i;
                }
                depth += 1;
            }
            b')' => {
                if depth == 0 {
                    return Err(SyntaxError::new(whole.pos + i, 1, "unmatched ')'"));
                }
                depth -= 1;
            }
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                if i > start {
                    out.push(whole.slice(start, i));
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SyntaxError::new(whole.pos + open_at, 1, "unmatched '('"));
    }
    if bytes.len() > start {
        out.push(whole.slice(start, bytes.len()));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<(usize, &str)> {
        split_top(Piece { pos: 0, text: s })
            .unwrap()
            .into_iter()
            .map(|p| (p.pos, p.text))
            .collect()
    }

    #[test]
    fn splits_outside_parentheses() {
        assert_eq!(
            texts("a=1, b(c,d) ,e"),
            vec![(0, "a=1"), (5, "b(c,d)"), (13, "e")]
        );
        assert!(split_top(Piece {
            pos: 0,
            text: "a(b"
        })
        .is_err());
        assert_eq!(
            split_top(Piece {
                pos: 3,
                text: "a)b"
            })
            .unwrap_err()
            .pos,
            4
        );
    }

    #[test]
    fn key_value_forms() {
        let p = Piece {
            pos: 10,
            text: "output(port=1)",
        };
        let (k, v) = p.key_value();
        assert_eq!(k.text, "output");
        let v = v.unwrap();
        assert_eq!((v.pos, v.text), (17, "port=1"));
        let p = Piece {
            pos: 0,
            text: "dl_src:00:11:22:33:44:55",
        };
        assert_eq!(p.key_value().1.unwrap().text, "00:11:22:33:44:55");
    }
}
