# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_boxpy_global_optspecs
    string join \n color= h/help V/version
end

function __fish_boxpy_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_boxpy_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_boxpy_using_subcommand
    set -l cmd (__fish_boxpy_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c boxpy -n "__fish_boxpy_needs_command" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c boxpy -n "__fish_boxpy_needs_command" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "run" -d 'Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "nbexec" -d 'Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "exec" -d 'Run any program under the same policy (`boxpy exec -- sh` for a shell inside)'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "render" -d 'Print the sandbox a policy becomes, as a bash script that runs it by hand; runs nothing'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "policy" -d 'List, show, check or create policies'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "cache" -d 'Show, clear or prime the per-venv library caches (matplotlib\'s font list)'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "doctor" -d 'Check whether this machine can sandbox, and how each limit is enforced'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "completions" -d 'Generate shell completions'
complete -c boxpy -n "__fish_boxpy_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s P -l policy -d 'A shipped policy name (default, strict, net, pypi) or a policy file' -r -a "default strict net pypi"
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l venv -d 'The virtualenv to use' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s w -l workdir -d 'Read-write working directory, the program\'s cwd [default: current directory]' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l hide -d 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l ro -d 'Extra read-only mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l rw -d 'Extra read-write mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l network -d 'Network mode' -r -f -a "none\t'A private network namespace with only a loopback interface'
localhost\t'On Linux the same as `none`: a private loopback for servers the program starts itself'
full\t'The host\'s network, plus resolv.conf, hosts and CA certificates'
proxy\t'Only the hosts the policy\'s `network.allow` and `--allow-host` name, through boxpy\'s proxy'"
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l allow-host -d 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy\'s proxy; implies `--network proxy` (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l deny-host -d 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l env -d 'Pass KEY from the host, or set KEY=VALUE (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l timeout -d 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l cpu -d 'CPU-time limit (e.g. 30s)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l memory -d 'Memory limit (e.g. 512MiB, 2GiB)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l audit-log -d 'Append one JSON line describing the run to FILE (also `[audit] log`)' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s c -d 'Run a code string' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s m -d 'Run a module as a script' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l mkdir -d 'Create the working directory (one level) when it does not exist'
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -l json -d 'Print one JSON result object on stdout instead of streaming'
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s q -l quiet -d 'No report of boxpy\'s own; only the program\'s output'
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s v -l verbose -d 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c boxpy -n "__fish_boxpy_using_subcommand run" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s P -l policy -d 'A shipped policy name (default, strict, net, pypi) or a policy file' -r -a "default strict net pypi"
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l venv -d 'The virtualenv to use' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s w -l workdir -d 'Read-write working directory, the program\'s cwd [default: current directory]' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l hide -d 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l ro -d 'Extra read-only mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l rw -d 'Extra read-write mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l network -d 'Network mode' -r -f -a "none\t'A private network namespace with only a loopback interface'
localhost\t'On Linux the same as `none`: a private loopback for servers the program starts itself'
full\t'The host\'s network, plus resolv.conf, hosts and CA certificates'
proxy\t'Only the hosts the policy\'s `network.allow` and `--allow-host` name, through boxpy\'s proxy'"
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l allow-host -d 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy\'s proxy; implies `--network proxy` (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l deny-host -d 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l env -d 'Pass KEY from the host, or set KEY=VALUE (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l timeout -d 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l cpu -d 'CPU-time limit (e.g. 30s)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l memory -d 'Memory limit (e.g. 512MiB, 2GiB)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l audit-log -d 'Append one JSON line describing the run to FILE (also `[audit] log`)' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s o -l output -d 'Write the executed notebook to OUT (atomically; `-` for stdout)' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l autosave-cell-every -d 'With `--request-save-on-cell-execute`: save inside a long cell at most every SECS seconds, when it outputs (0: never) [default: 30]' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s p -l parameter -d 'A parameter, VALUE read as papermill reads it: `True`, `False`, `None`; else an int as Python\'s int() reads it (`007` is 7); else a float as float() reads it (`1e400` is inf, `nan`); else a Python literal (`[1, 2]`, `{\'a\': 1}`, `\'text\'`); else the text itself' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s r -l parameter-raw -d 'A parameter whose VALUE is always a string' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s y -l parameters-yaml -d 'Parameters from YAML text, a mapping (as papermill\'s PyYAML reads it: `yes` is True, `1e3` a string, `1.0e+3` a float)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s f -l parameters-file -d 'Parameters from a YAML file, a mapping' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s b -l parameters-base64 -d 'Parameters from base64-encoded YAML, a mapping' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l cell-timeout -d 'Limit for each cell (e.g. 60s); the policy\'s `limits.timeout` bounds the whole run' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l kernel -d 'The kernel to use (default: the notebook\'s kernelspec, else python3)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l cwd -d 'Run the kernel in DIR (for a notebook\'s relative paths): as it is inside the workdir, else mounted read-only; never HOME or above it, `/`, a system or protected directory' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l max-notebook-size -d 'The largest notebook boxpy reads (default 256MiB)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l mkdir -d 'Create the working directory (one level) when it does not exist'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l json -d 'Print one JSON result object on stdout instead of streaming'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s q -l quiet -d 'No report of boxpy\'s own; only the program\'s output'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s v -l verbose -d 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l inplace -d 'Overwrite NOTEBOOK with the executed notebook (atomically)'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l prepare-only -d 'Inject the parameters and write the notebook (with papermill\'s metadata, outputs cleared) without starting a kernel; needs `-o` or `--inplace`'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l log-output -d 'Stream what each cell prints (and its text results) to stderr as it arrives'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l request-save-on-cell-execute -d 'Save the notebook to OUT as each cell starts and ends (and every `--autosave-cell-every` seconds of a cell\'s output), so a run that is killed leaves its completed cells; needs `-o` or `--inplace`'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l help-notebook -d 'Print the notebook\'s parameters (from its cell tagged `parameters`, as papermill infers them) and exit without running anything'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -l allow-errors -d 'Run every cell even after one fails; exit 1 at the end if any failed'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c boxpy -n "__fish_boxpy_using_subcommand nbexec" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -s P -l policy -d 'A shipped policy name (default, strict, net, pypi) or a policy file' -r -a "default strict net pypi"
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l venv -d 'The virtualenv to use' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -s w -l workdir -d 'Read-write working directory, the program\'s cwd [default: current directory]' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l hide -d 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l ro -d 'Extra read-only mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l rw -d 'Extra read-write mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l network -d 'Network mode' -r -f -a "none\t'A private network namespace with only a loopback interface'
localhost\t'On Linux the same as `none`: a private loopback for servers the program starts itself'
full\t'The host\'s network, plus resolv.conf, hosts and CA certificates'
proxy\t'Only the hosts the policy\'s `network.allow` and `--allow-host` name, through boxpy\'s proxy'"
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l allow-host -d 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy\'s proxy; implies `--network proxy` (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l deny-host -d 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l env -d 'Pass KEY from the host, or set KEY=VALUE (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l timeout -d 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l cpu -d 'CPU-time limit (e.g. 30s)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l memory -d 'Memory limit (e.g. 512MiB, 2GiB)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l audit-log -d 'Append one JSON line describing the run to FILE (also `[audit] log`)' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l mkdir -d 'Create the working directory (one level) when it does not exist'
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -l json -d 'Print one JSON result object on stdout instead of streaming'
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -s q -l quiet -d 'No report of boxpy\'s own; only the program\'s output'
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -s v -l verbose -d 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c boxpy -n "__fish_boxpy_using_subcommand exec" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -s P -l policy -d 'A shipped policy name (default, strict, net, pypi) or a policy file' -r -a "default strict net pypi"
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l venv -d 'The virtualenv to use' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -s w -l workdir -d 'Read-write working directory, the program\'s cwd [default: current directory]' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l hide -d 'Make matching files read as empty, on top of the default credential list (repeatable; see `boxpy run --help`)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l ro -d 'Extra read-only mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l rw -d 'Extra read-write mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l network -d 'Network mode' -r -f -a "none\t'A private network namespace with only a loopback interface'
localhost\t'On Linux the same as `none`: a private loopback for servers the program starts itself'
full\t'The host\'s network, plus resolv.conf, hosts and CA certificates'
proxy\t'Only the hosts the policy\'s `network.allow` and `--allow-host` name, through boxpy\'s proxy'"
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l allow-host -d 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy\'s proxy; implies `--network proxy` (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l deny-host -d 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l env -d 'Pass KEY from the host, or set KEY=VALUE (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l timeout -d 'Wall-clock limit (e.g. 30s, 5m)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l cpu -d 'CPU-time limit (e.g. 30s)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l memory -d 'Memory limit (e.g. 512MiB, 2GiB)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l target -d 'Which sandbox to render' -r -f -a "linux\t''
macos\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l seccomp-out -d 'Also write the compiled seccomp filter to FILE; the printed script opens it itself (`bash SCRIPT`), and without it needs `bash SCRIPT 5<FILE`' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -l json -d 'Print the command (or the Seatbelt profile) as one JSON object'
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c boxpy -n "__fish_boxpy_using_subcommand render" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -f -a "list" -d 'List the shipped policies and the policy files found for this directory'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -f -a "show" -d 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -f -a "check" -d 'Validate a policy file (or a shipped policy) and warn about risky choices'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -f -a "trust" -d 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -f -a "init" -d 'Write a commented `boxpy.toml` for the current project'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and not __fish_seen_subcommand_from list show check trust init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from list" -s w -l workdir -d 'Working directory to look in [default: current directory]' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from list" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -s P -l policy -d 'A shipped policy name (default, strict, net, pypi) or a policy file' -r -a "default strict net pypi"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -s w -l workdir -d 'Working directory (where the lookup starts; `filesystem.workdir`)' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l ro -d 'Extra read-only mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l rw -d 'Extra read-write mount (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l network -d 'Network mode' -r -f -a "none\t'A private network namespace with only a loopback interface'
localhost\t'On Linux the same as `none`: a private loopback for servers the program starts itself'
full\t'The host\'s network, plus resolv.conf, hosts and CA certificates'
proxy\t'Only the hosts the policy\'s `network.allow` and `--allow-host` name, through boxpy\'s proxy'"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l allow-host -d 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy\'s proxy; implies `--network proxy` (repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l deny-host -d 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l timeout -d 'Wall-clock limit (e.g. 30s, 5m)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l cpu -d 'CPU-time limit (e.g. 30s)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l memory -d 'Memory limit (e.g. 512MiB, 2GiB)' -r
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -l json -d 'Print the policy as one JSON object'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from check" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from trust" -s w -l workdir -d 'Working directory to look in, when no FILE is given [default: current directory]' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from trust" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from trust" -l revoke -d 'Forget the file instead (a later run refuses it again if it widens the sandbox)'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from trust" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from trust" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from init" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from init" -l force -d 'Overwrite an existing boxpy.toml'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the shipped policies and the policy files found for this directory'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate a policy file (or a shipped policy) and warn about risky choices'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "trust" -d 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "init" -d 'Write a commented `boxpy.toml` for the current project'
complete -c boxpy -n "__fish_boxpy_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and not __fish_seen_subcommand_from show clear prime help" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and not __fish_seen_subcommand_from show clear prime help" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and not __fish_seen_subcommand_from show clear prime help" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and not __fish_seen_subcommand_from show clear prime help" -f -a "show" -d 'List the cached entries: library, venv, key, size, and whether each is stale'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and not __fish_seen_subcommand_from show clear prime help" -f -a "clear" -d 'Remove every entry, or one venv\'s'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and not __fish_seen_subcommand_from show clear prime help" -f -a "prime" -d 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and not __fish_seen_subcommand_from show clear prime help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from show" -l venv -d 'Only this venv\'s entries' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from show" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from clear" -l venv -d 'Only this venv\'s entries' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from clear" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from clear" -l json -d 'Print one JSON object'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from clear" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from prime" -l venv -d 'The venv [default: the one `run` would use here]' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from prime" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from prime" -l json -d 'Print one JSON object'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from prime" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from prime" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "show" -d 'List the cached entries: library, venv, key, size, and whether each is stale'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Remove every entry, or one venv\'s'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "prime" -d 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept'
complete -c boxpy -n "__fish_boxpy_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c boxpy -n "__fish_boxpy_using_subcommand doctor" -l venv -d 'The venv to check (default: what `run` would use here)' -r -F
complete -c boxpy -n "__fish_boxpy_using_subcommand doctor" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand doctor" -l json -d 'Print the checks as one JSON object'
complete -c boxpy -n "__fish_boxpy_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand completions" -l color -d 'When to colour boxpy\'s own output: `auto` honours `NO_COLOR` and whether the output is a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c boxpy -n "__fish_boxpy_using_subcommand completions" -s h -l help -d 'Print help'
complete -c boxpy -n "__fish_boxpy_using_subcommand completions" -s V -l version -d 'Print version'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "run" -d 'Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "nbexec" -d 'Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "exec" -d 'Run any program under the same policy (`boxpy exec -- sh` for a shell inside)'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "render" -d 'Print the sandbox a policy becomes, as a bash script that runs it by hand; runs nothing'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "policy" -d 'List, show, check or create policies'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "cache" -d 'Show, clear or prime the per-venv library caches (matplotlib\'s font list)'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "doctor" -d 'Check whether this machine can sandbox, and how each limit is enforced'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "completions" -d 'Generate shell completions'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and not __fish_seen_subcommand_from run nbexec exec render policy cache doctor completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "list" -d 'List the shipped policies and the policy files found for this directory'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Validate a policy file (or a shipped policy) and warn about risky choices'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "trust" -d 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "init" -d 'Write a commented `boxpy.toml` for the current project'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "show" -d 'List the cached entries: library, venv, key, size, and whether each is stale'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "clear" -d 'Remove every entry, or one venv\'s'
complete -c boxpy -n "__fish_boxpy_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "prime" -d 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept'
