// Which keys look secret, and how values and the passwords inside URLs are masked.

import StagefixCore
import Testing

struct SecretRedactionTests {
    @Test(arguments: [
        "DJANGO_SECRET_KEY", "SECRET_KEY", "DB_PASSWORD", "dbPassword", "MYSQL_PASSWD", "API_TOKEN", "apiToken",
        "AWS_ACCESS_KEY_ID", "STRIPE_API_KEY", "apikey", "SENTRY_DSN", "GOOGLE_APPLICATION_CREDENTIALS",
        "SSH_PRIVATE_KEY", "GITHUB_AUTH", "OAUTH_CLIENT_SECRET", "EMAIL_HOST_PASSWORD", "DB_PASS", "DB_PWD",
        "SESSION_SALT", "secrets.json", "REDIS_CREDS",
    ])
    func secretKeys(key: String) {
        #expect(SecretRedaction.isSecretLooking(key: key))
    }

    @Test(arguments: [
        "DJANGO_DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "MONKEY_COUNT", "KEYBOARD_LAYOUT", "AUTHOR_NAME",
        "PWD", "OLDPWD", "PASSAGE", "TIME_ZONE", "HOME", "PUBLIC_URL",
    ])
    func ordinaryKeys(key: String) {
        #expect(!SecretRedaction.isSecretLooking(key: key))
    }

    @Test func aSecretKeysValueIsMaskedWhole() {
        #expect(SecretRedaction.redacted(value: "k2v3u8yq0p9w1n4m", forKey: "DJANGO_SECRET_KEY") == SecretRedaction.mask)
        #expect(SecretRedaction.redacted(value: "", forKey: "DJANGO_SECRET_KEY") == "")
        #expect(SecretRedaction.redacted(value: "True", forKey: "DJANGO_DEBUG") == "True")
    }

    @Test(arguments: [
        ("postgres://user:pass@host:5432/db", "postgres://user:******@host:5432/db"),
        ("postgres://user:p@ss@host/db", "postgres://user:******@host/db"),
        ("redis://:secret@cache:6379/0", "redis://:******@cache:6379/0"),
        ("redis://:a@h1,redis://:b@h2", "redis://:******@h1,redis://:******@h2"),
        ("mongodb://u:pw@h1,h2,h3/db?replicaSet=rs", "mongodb://u:******@h1,h2,h3/db?replicaSet=rs"),
        ("postgres://user@host/db", "postgres://user@host/db"),
        ("postgres://user:@host/db", "postgres://user:@host/db"),
        ("https://example.com/path?a=1", "https://example.com/path?a=1"),
        ("https://example.com/cb?token=abc&x=1", "https://example.com/cb?token=******&x=1"),
        ("https://h/?api_key=k1&password=p#frag", "https://h/?api_key=******&password=******#frag"),
        ("see https://u:p@h and https://v:q@i", "see https://u:******@h and https://v:******@i"),
        ("no url here", "no url here"),
        ("a@b:c", "a@b:c"),
    ])
    func passwordsInsideURLsAreMasked(value: String, expected: String) {
        #expect(SecretRedaction.redacted(value: value, forKey: "DATABASE_URL") == expected)
    }
}
