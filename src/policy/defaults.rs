//! The defaults `filesystem.protect` and `filesystem.hide` start from: the names host tools
//! execute or obey, and the credential patterns hidden in every place the program sees.
//! Why each is there is in `crate::sandbox::protect`'s module doc, which enforces them;
//! the lists live here so the policy, which resolves them, depends on nothing above it.

/// Names host tools execute or obey, at the top of the workdir and each writable mount.
pub const PROTECTED_NAMES: &[&str] = &[
    // Version control: hooks, config (`core.fsmonitor`, `core.hooksPath`), filters; `HEAD`
    // (with `objects/` and `refs/` next to it the place is a bare repository git would
    // discover and obey).
    ".git",
    "HEAD",
    ".gitmodules",
    ".gitattributes",
    ".hg",
    ".hgrc",
    ".svn",
    ".bzr",
    ".jj",
    // Run on `cd` or by version managers (mise and asdf read all of these).
    ".envrc",
    ".tool-versions",
    ".mise.toml",
    "mise.toml",
    ".mise.local.toml",
    "mise.local.toml",
    ".mise",
    ".rtx.toml",
    ".config",
    ".python-version",
    ".nvmrc",
    // Debuggers and editors that load a file from the current directory.
    ".pdbrc",
    ".exrc",
    ".nvimrc",
    ".nvim.lua",
    ".dir-locals.el",
    // Editors, dev containers and coding agents (their hooks and MCP servers run commands).
    ".vscode",
    ".idea",
    ".zed",
    ".devcontainer",
    ".devcontainer.json",
    ".claude",
    ".mcp.json",
    ".cursor",
    // Run at commit time.
    ".pre-commit-config.yaml",
    ".husky",
    // Package and build tools that run code from their config.
    ".yarnrc.yml",
    ".yarnrc",
    ".npmrc",
    ".pnpmfile.cjs",
    ".lfsconfig",
    ".bazelrc",
    ".cargo",
    // Linters and type checkers an editor runs on its own (`init-hook`, mypy plugins).
    ".pylintrc",
    "pylintrc",
    "mypy.ini",
    ".mypy.ini",
    "setup.cfg",
    "tox.ini",
    // Read by pipenv, docker compose, editors' `envFile` (also hidden: credentials).
    ".env",
    // Loaded from the current directory by Jupyter and IPython.
    "ipython_config.py",
    "jupyter_config.py",
    "jupyter_notebook_config.py",
    "jupyter_server_config.py",
    "jupyter_lab_config.py",
    "ipython_config.json",
    "jupyter_config.json",
    "jupyter_notebook_config.json",
    "jupyter_server_config.json",
    "jupyter_lab_config.json",
    // boxpy's own steering files: the next run's policy, venv and interpreter (a venv the
    // program creates would also run on the host when the user or an editor activates it).
    "boxpy.toml",
    "pyproject.toml",
    ".venv",
    // Where leftovers are moved: a later run must not move them back.
    QUARANTINE,
];

/// Where a protected name the program created is moved, in the same directory.
pub const QUARANTINE: &str = ".boxpy-quarantine";

/// Credentials hidden by default, as patterns (`crate::sandbox::protect::matches`): read as empty files or
/// empty directories inside.
pub const HIDDEN_DEFAULTS: &[&str] = &[
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".htpasswd",
    ".envrc",
    ".aws",
    ".ssh",
    ".gnupg",
    ".azure",
    ".docker/config.json",
    ".kube/config",
    ".streamlit/secrets.toml",
];

/// Variables that name certificate files or directories (pip's `--cert` and
/// `--client-cert`, requests, OpenSSL). In `proxy` mode the files the passed ones name
/// (`env.pass`, `--env NAME`) are mounted read-only where they are, so a corporate CA or
/// client certificate works inside (`settings::certificate_mounts`).
pub const CERTIFICATE_VARIABLES: &[&str] = &[
    "PIP_CERT",
    "PIP_CLIENT_CERT",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// System caches that are data libraries read and never execute, mounted read-only into
/// every run where they exist as real directories no other user can write (issue 26):
/// fontconfig's cache, without which every run's fontconfig (and matplotlib's `fc-list`)
/// rescans every font. Each passes the mount gate like a policy's mount; `policy show`
/// lists them. What one shows is the names and paths of the host's fonts.
pub const SYSTEM_CACHES: &[&str] = &["/var/cache/fontconfig"];

/// The [`SYSTEM_CACHES`] only a font library reads: mounted only when the run uses fonts
/// (`crate::venv::uses_fonts`), with `/etc/fonts`.
pub const FONT_CACHES: &[&str] = &["/var/cache/fontconfig"];
