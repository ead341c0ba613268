// Hand-written env files, each aimed at one python-dotenv rule or quirk, for the differential test.

/// One env file for the differential test, named for what it exercises.
struct DotEnvCase: Sendable, CustomStringConvertible {
    let name: String
    let text: String

    var description: String { "\(name): \(String(reflecting: text))" }
}

/// The environment every differential case is parsed with, on both sides.
let dotEnvTestEnvironment: [String: String] = [
    "HOME": "/home/site",
    "FROM_ENV": "from the environment",
    "EMPTY_ENV": "",
    "SHADOWED": "the environment loses",
]

enum DotEnvCorpus {
    static let handWritten: [DotEnvCase] = [
        // Blank lines and comments
        DotEnvCase(name: "empty file", text: ""),
        DotEnvCase(name: "only blank lines", text: "\n\n   \n\t\n"),
        DotEnvCase(name: "comments", text: "# a comment\n   # indented\n#\nA=1\n# trailing"),
        DotEnvCase(name: "comment right after a key", text: "A#c\nB=1\n"),
        // Plain values
        DotEnvCase(name: "simple", text: "A=1\nB=two\nC=three words here\n"),
        DotEnvCase(name: "no final newline", text: "A=1\nB=2"),
        DotEnvCase(name: "empty values", text: "A=\nB=''\nC=\"\"\nD= \nE="),
        DotEnvCase(name: "spaces around the equals sign", text: "A = 1\nB=  2  \nC\t=\t3\t\n"),
        DotEnvCase(name: "indented statements", text: "   A=1\n\tB=2\n  export C=3\n"),
        DotEnvCase(name: "equals signs in values", text: "A=k=v=w\nB==x\nC='=y='\n"),
        DotEnvCase(name: "hash inside unquoted values", text: "A=a#b\nB=a #b\nC=a\t#b\nD=#b\nE= #b\nF=  # x\nG=a  #  b # c\n"),
        DotEnvCase(name: "quotes inside unquoted values", text: #"A=it's\#nB=say "hi"\#nC=a'b'c\#nD=x"\#n"#),
        DotEnvCase(name: "backslashes in unquoted values", text: #"A=C:\path\#nB=a\nb\#nC=end\\#nD=1"#),
        DotEnvCase(name: "trailing whitespace", text: "A=1   \nB='x'  \t\nC=\"y\"\t \nD=z\u{0B}\n"),
        // export
        DotEnvCase(name: "export prefix", text: "export A=1\nexport  B=2\nexport\tC=3\n"),
        DotEnvCase(name: "a key named export", text: "export=1\nexportA=2\n"),
        DotEnvCase(name: "export without a key", text: "export =1\nB=2\n"),
        DotEnvCase(name: "export before a comment", text: "export # comment\nA=1\n"),
        DotEnvCase(name: "export alone", text: "export\nexport \nA=1"),
        DotEnvCase(name: "export of a bare key", text: "export A\nB=1\n"),
        // Single quotes
        DotEnvCase(name: "single quotes are literal", text: #"A='a b\#tc'\#nB='\n'\#nC='"x"'\#nD='#not a comment'\#n"#),
        DotEnvCase(name: "single quote escapes", text: #"A='it\'s'\#nB='a\\b'\#nC='\\'\#nD=2"#),
        DotEnvCase(name: "single quotes ending in a backslash", text: #"A='a\'\#nB=2\#n"#),
        DotEnvCase(name: "single quote escape then a later quote", text: #"A='x\'\#nB='y'\#nC=3\#n"#),
        DotEnvCase(name: "escaped quote then a real one", text: #"A='a\'b'\#nB=1\#n"#),
        DotEnvCase(name: "multi-line single quotes", text: "A='line1\nline2'\nB=3\n"),
        DotEnvCase(name: "single quoted value then comment", text: "A=  'x' # c\nB='y'# tight\n"),
        DotEnvCase(name: "unterminated single quote closed lines later", text: "A='abc\nB=x'\nC=3\n"),
        DotEnvCase(name: "unterminated single quote", text: "A='abc\nB=2\n"),
        // Double quotes
        DotEnvCase(name: "double quote escapes", text: #"A="a\nb\tc\"d\\e\'f"\#n"#),
        DotEnvCase(name: "double quote control escapes", text: #"A="\a\b\f\r\v"\#nB=1"#),
        DotEnvCase(name: "unknown escapes stay", text: #"A="\x41 \u00e9 \0 \q \$"\#n"#),
        DotEnvCase(name: "escaped backslash then n", text: #"A="\\n"\#nB="\\\n"\#n"#),
        DotEnvCase(name: "multi-line double quotes", text: "A=\"line1\nline2\n\"\nB=3\n"),
        DotEnvCase(name: "double quoted value then comment", text: "A=\"x\" # c\nB=\"y\"#tight\nC=\"z\"   \n"),
        DotEnvCase(name: "junk after a closing quote", text: "A=\"x\"y\nB=2\n"),
        DotEnvCase(name: "two assignments on a line", text: "A=\"x\" B=\"z\"\nC=1\n"),
        DotEnvCase(name: "unterminated double quote", text: "A=\"abc\nB=2\n"),
        DotEnvCase(name: "double quotes ending in an escaped quote", text: #"A="abc\""#),
        DotEnvCase(name: "space before the opening quote", text: "A= \"x\"\nB=\t'y'\n"),
        DotEnvCase(name: "nested quotes", text: #"A="'x'"\#nB='"y"'\#n"#),
        // Line endings and encodings
        DotEnvCase(name: "CRLF", text: "A=1\r\nB=\"x\"\r\n# c\r\nC=3 # d\r\n"),
        DotEnvCase(name: "CRLF inside double quotes", text: "A=\"x\r\ny\"\r\nB=1\r\n"),
        DotEnvCase(name: "CRLF inside single quotes", text: "A='x\r\ny'\r\nB=1\r\n"),
        DotEnvCase(name: "lone CR line breaks", text: "A=1\rB=2\rC='x\ry'\r"),
        DotEnvCase(name: "mixed line breaks", text: "A=1\r\nB=2\nC=3\rD=4"),
        DotEnvCase(name: "byte order mark", text: "\u{FEFF}A=1\nB=2\n"),
        DotEnvCase(name: "byte order mark before export", text: "\u{FEFF}export A=1\n"),
        DotEnvCase(name: "byte order mark, CRLF and a comment", text: "\u{FEFF}# settings\r\nA=1\r\n"),
        DotEnvCase(name: "unicode keys and values", text: "ключ=значение\nB=héllo ✓ 😀\nC='日本語'\n"),
        DotEnvCase(name: "unicode whitespace", text: "A=\u{A0}x\u{A0}\nB=x\u{2003}#c\n\u{2028}C=1\nD=a\u{3000}\n"),
        DotEnvCase(name: "vertical tab and form feed", text: "A=1\u{0B}\nB=\u{0C}2\n\u{0C}C=3"),
        DotEnvCase(name: "NEL and separators", text: "A=x\u{85}y\nB=1\u{1C}\nC=\u{1F}z\n"),
        DotEnvCase(name: "NUL inside a value", text: "A=a\u{0}b\nB='\u{0}'\n"),
        // Duplicates and bare keys
        DotEnvCase(name: "duplicate keys", text: "A=1\nB=2\nA=3\n"),
        DotEnvCase(name: "duplicates and references", text: "A=1\nB=${A}\nA=2\nC=${A}\n"),
        DotEnvCase(name: "bare keys", text: "A\nB=1\nC # comment\nexport D\n"),
        DotEnvCase(name: "a value then a bare duplicate", text: "A=1\nA\nB=${A:-default}\n"),
        // Expansion
        DotEnvCase(name: "references to earlier keys", text: "A=x\nB=${A}y\nC=${MISSING}\nD=${MISSING:-def}\nE=${A:-def}\n"),
        DotEnvCase(name: "references to the environment", text: "A=${HOME}/app\nB=${FROM_ENV}\nC=${EMPTY_ENV:-fallback}\n"),
        DotEnvCase(name: "file values win over the environment", text: "SHADOWED=from the file\nA=${SHADOWED}\n"),
        DotEnvCase(name: "reference to a later key", text: "A=${B}\nB=1\n"),
        DotEnvCase(name: "expansion inside single quotes", text: "A=x\nB='${A}'\nC='${HOME}'\n"),
        DotEnvCase(name: "expansion inside double quotes", text: "A=x\nB=\"${A} and ${HOME}\"\n"),
        DotEnvCase(name: "dollar edge cases", text: "A=$\nB=${\nC=${A\nD=$A\nE=${A}}\nF=${:-x}\nG=${}\nH=${A:x}\nI=${A:-}\nJ=${A:-${B}}\n"),
        DotEnvCase(name: "nested defaults", text: "A=${X:-${Y:-z}}\nB=${X:-a:-b}\n"),
        DotEnvCase(name: "reference to a bare key", text: "A\nB=${A:-d}\nC=${A}\n"),
        DotEnvCase(name: "self reference", text: "A=${A}x\nA=${A}y\n"),
        DotEnvCase(name: "expansion is not recursive", text: "A=$${B}\nB=${:-${X}}\nC=${B}\n"),
        // Keys
        DotEnvCase(name: "quoted keys", text: "'A B'=1\n'x'=2\n'#'=3\n"),
        DotEnvCase(name: "quoted key across lines", text: "'A\nB'=1\nC=2\n"),
        DotEnvCase(name: "empty quoted key", text: "''=1\nB=2\n"),
        DotEnvCase(name: "odd key characters", text: "a.b=1\nk-e-y=2\n$X=3\n{}=4\n"),
        // Lines python-dotenv cannot parse
        DotEnvCase(name: "invalid lines", text: "=1\nA B\n:\nB=2\n"),
        DotEnvCase(name: "invalid line after blank lines", text: "A=1\n\n\nfoo bar\nB=2\n"),
        DotEnvCase(name: "resuming mid-line", text: "A B=1\nC=2\n"),
        DotEnvCase(name: "invalid at the end without newline", text: "A=1\n'"),
        DotEnvCase(name: "invalid after a multi-line value", text: "A=\"x\ny\" z\nB=1\n"),
        // Realistic files
        DotEnvCase(name: "a Django site", text: """
            # Django settings for the staging site
            DJANGO_SECRET_KEY='k2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h!@#$%^&*(-_=+)'
            DJANGO_DEBUG=False
            DJANGO_ALLOWED_HOSTS=staging.example.com,localhost
            DATABASE_URL=postgres://site:s3cr%40t@db.internal:5432/site
            export EMAIL_HOST_PASSWORD="pa ss\\"word"
            SENTRY_DSN=https://abc@o0.ingest.sentry.io/1 # errors
            STATIC_ROOT=${HOME}/static

            """),
        DotEnvCase(name: "the rig's tricky.env", text: #"""
            # tricky.env: awkward values appended to the site's .env by scripts/rig, for dotenv-parser tests.
            TRICKY='a $b `c` "d" #e =f'
            TRICKY_SPACES='  two  spaces  '
            TRICKY_EQUALS=k=v=w
            TRICKY_HASH=value # a comment after whitespace is not part of the value
            TRICKY_DQ="double quoted"
            TRICKY_EMPTY=
            TRICKY_UNICODE='héllo wörld ✓'
            export TRICKY_EXPORT=exported

            """#),
    ]
}
