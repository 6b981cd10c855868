//! The little language in which partial derivatives are written.
//!
//! A rule's partial is an expression over the primal arguments (named by the rule), the
//! primal result `r`, numeric constants and `pi`, `ln2`, `ln10`; with `+ - * /`, unary
//! minus, comparisons, `c ? a : b`, and calls of `sqrt exp log sin cos sinh cosh pow trunc
//! fabs copysign float` (`float(n)` converts an integer argument). Writing partials as
//! text keeps the tables readable as mathematics; they are parsed once and emitted as IR
//! of whatever floating-point type the primal has (scalar or vector).
//!
//! Floor: the bottom of the rules; this file is the language only (the rows of the
//! tables, the syntax tree, its parser and evaluator). Turning an expression into IR is
//! `emit.rs`, which sits above the cancelling of factors (`cancel.rs`) that it uses.

/// A rule as written in the tables.
pub struct RuleSpec {
    /// Canonical name: the libm name, or the instruction's name for arithmetic.
    pub name: &'static str,
    /// Parameter names in call order; a leading `#` marks an integer parameter, which has
    /// no partial and may be used in partials through `float(..)`.
    pub params: &'static [&'static str],
    /// One partial per floating-point parameter, in order.
    pub partials: &'static [&'static str],
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(String),
    Neg(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

pub const FUNCTIONS: &[(&str, usize)] = &[
    ("sqrt", 1),
    ("exp", 1),
    ("log", 1),
    ("sin", 1),
    ("cos", 1),
    ("sinh", 1),
    ("cosh", 1),
    ("trunc", 1),
    ("fabs", 1),
    ("float", 1),
    ("pow", 2),
    ("copysign", 2),
];

pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.cond()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected `{}` in `{src}`", p.toks[p.pos]));
    }
    Ok(e)
}

fn lex(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() || ch == '.' {
            let st = i;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.' || c[i] == 'e' || ((c[i] == '-' || c[i] == '+') && c[i - 1] == 'e')) {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        } else if ch.is_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        } else if i + 1 < c.len() && matches!((ch, c[i + 1]), ('<', '=') | ('>', '=') | ('=', '=') | ('!', '=')) {
            out.push(c[i..i + 2].iter().collect());
            i += 2;
        } else if "+-*/()<>?:,".contains(ch) {
            out.push(ch.to_string());
            i += 1;
        } else {
            return Err(format!("unexpected character `{ch}` in `{s}`"));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(|s| s.as_str())
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, t: &str) -> Result<(), String> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(format!("expected `{t}`, found {:?}", self.peek()))
        }
    }
    fn cond(&mut self) -> Result<Expr, String> {
        let c = self.cmp()?;
        if self.eat("?") {
            let a = self.cond()?;
            self.expect(":")?;
            let b = self.cond()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }
    fn cmp(&mut self) -> Result<Expr, String> {
        let a = self.sum()?;
        let op = match self.peek() {
            Some("<") => CmpOp::Lt,
            Some("<=") => CmpOp::Le,
            Some(">") => CmpOp::Gt,
            Some(">=") => CmpOp::Ge,
            Some("==") => CmpOp::Eq,
            Some("!=") => CmpOp::Ne,
            _ => return Ok(a),
        };
        self.pos += 1;
        let b = self.sum()?;
        Ok(Expr::Cmp(op, Box::new(a), Box::new(b)))
    }
    fn sum(&mut self) -> Result<Expr, String> {
        let mut a = self.product()?;
        loop {
            let op = match self.peek() {
                Some("+") => '+',
                Some("-") => '-',
                _ => return Ok(a),
            };
            self.pos += 1;
            let b = self.product()?;
            a = Expr::Bin(op, Box::new(a), Box::new(b));
        }
    }
    fn product(&mut self) -> Result<Expr, String> {
        let mut a = self.unary()?;
        loop {
            let op = match self.peek() {
                Some("*") => '*',
                Some("/") => '/',
                _ => return Ok(a),
            };
            self.pos += 1;
            let b = self.unary()?;
            a = Expr::Bin(op, Box::new(a), Box::new(b));
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> Result<Expr, String> {
        let t = self.peek().ok_or("unexpected end of expression")?.to_string();
        self.pos += 1;
        if t == "(" {
            let e = self.cond()?;
            self.expect(")")?;
            return Ok(e);
        }
        if let Ok(n) = t.parse::<f64>() {
            return Ok(Expr::Num(n));
        }
        if t.chars().next().map(|c| c.is_alphabetic() || c == '_').unwrap_or(false) {
            if self.eat("(") {
                let mut args = vec![self.cond()?];
                while self.eat(",") {
                    args.push(self.cond()?);
                }
                self.expect(")")?;
                match FUNCTIONS.iter().find(|(n, _)| *n == t) {
                    Some((_, arity)) if *arity == args.len() => return Ok(Expr::Call(t, args)),
                    Some((_, arity)) => return Err(format!("`{t}` takes {arity} argument(s)")),
                    None => return Err(format!("unknown function `{t}`")),
                }
            }
            return Ok(match t.as_str() {
                "pi" => Expr::Num(std::f64::consts::PI),
                "ln2" => Expr::Num(std::f64::consts::LN_2),
                "ln10" => Expr::Num(std::f64::consts::LN_10),
                _ => Expr::Var(t),
            });
        }
        Err(format!("unexpected `{t}`"))
    }
}

impl Expr {
    pub fn as_const(&self) -> Option<f64> {
        match self {
            Expr::Num(n) => Some(*n),
            Expr::Neg(e) => e.as_const().map(|v| -v),
            _ => None,
        }
    }

    /// The variables the expression reads (so generators know which primal values a
    /// partial needs: reverse mode caches or recomputes exactly those).
    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var(v) => {
                if !out.contains(v) {
                    out.push(v.clone())
                }
            }
            Expr::Neg(a) => a.vars(out),
            Expr::Bin(_, a, b) | Expr::Cmp(_, a, b) => {
                a.vars(out);
                b.vars(out);
            }
            Expr::Cond(c, a, b) => {
                c.vars(out);
                a.vars(out);
                b.vars(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.vars(out)),
        }
    }

    /// Evaluates in f64; the independent oracle in the rule tests.
    pub fn eval(&self, env: &dyn Fn(&str) -> f64) -> f64 {
        match self {
            Expr::Num(n) => *n,
            Expr::Var(v) => env(v),
            Expr::Neg(a) => -a.eval(env),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(env), b.eval(env));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                }
            }
            Expr::Cmp(op, a, b) => {
                let (a, b) = (a.eval(env), b.eval(env));
                let r = match op {
                    CmpOp::Lt => a < b,
                    CmpOp::Le => a <= b,
                    CmpOp::Gt => a > b,
                    CmpOp::Ge => a >= b,
                    CmpOp::Eq => a == b,
                    CmpOp::Ne => a != b,
                };
                r as i32 as f64
            }
            Expr::Cond(c, a, b) => {
                if c.eval(env) != 0.0 {
                    a.eval(env)
                } else {
                    b.eval(env)
                }
            }
            Expr::Call(f, args) => {
                let a: Vec<f64> = args.iter().map(|x| x.eval(env)).collect();
                match f.as_str() {
                    "sqrt" => a[0].sqrt(),
                    "exp" => a[0].exp(),
                    "log" => a[0].ln(),
                    "sin" => a[0].sin(),
                    "cos" => a[0].cos(),
                    "sinh" => a[0].sinh(),
                    "cosh" => a[0].cosh(),
                    "trunc" => a[0].trunc(),
                    "fabs" => a[0].abs(),
                    "float" => a[0],
                    "pow" => a[0].powf(a[1]),
                    "copysign" => a[0].copysign(a[1]),
                    _ => f64::NAN,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_conditionals() {
        let e = parse("x < 0 ? -1 : 1 + 2 * x").unwrap();
        assert_eq!(e.eval(&|_| -3.0), -1.0);
        assert_eq!(e.eval(&|_| 2.0), 5.0);
        let e = parse("-x*x").unwrap();
        assert_eq!(e.eval(&|_| 3.0), -9.0);
        assert_eq!(parse("1/(1+x*x)").unwrap().eval(&|_| 1.0), 0.5);
        assert_eq!(parse("2e-1 * 10").unwrap().eval(&|_| 0.0), 2.0);
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse("x +").is_err());
        assert!(parse("foo(x)").is_err());
        assert!(parse("sqrt(x, y)").is_err());
        assert!(parse("x $ y").is_err());
    }
}
