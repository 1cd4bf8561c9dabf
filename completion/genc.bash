# bash completion for genc, installed as share/bash-completion/completions/genc.
# Flags after '-', a checkpoint after --weights, int8 after --quantize, c or
# wasm after --target, rank counts after --mpi-ranks, any file after -o,
# else specs (*.gm) and directories.
# The flag list is genc --help's; tests/install_check.sh checks that the two agree.

_genc_files() # PATTERN: files matching PATTERN, and directories to descend into
{
    mapfile -t COMPREPLY < <(compgen -d -- "$cur"; compgen -f -X "!$1" -- "$cur")
}

_genc()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    if ((COMP_CWORD > 0)); then prev=${COMP_WORDS[COMP_CWORD - 1]}; fi
    local flags='-o --mpi --mpi-ranks --summary --dot --dump-tokens --dump-ast --dump-ir --no-fuse
        --sampler --weights --weights-file --no-ema --quantize --target --help --version'

    case $prev in
        -o)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
        --weights)
            _genc_files '*.ckpt'
            return ;;
        --quantize)
            mapfile -t COMPREPLY < <(compgen -W int8 -- "$cur")
            return ;;
        --target)
            mapfile -t COMPREPLY < <(compgen -W 'c wasm' -- "$cur")
            return ;;
        --mpi-ranks)
            mapfile -t COMPREPLY < <(compgen -W '2 4 8 16' -- "$cur")
            return ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
    else
        _genc_files '*.gm'
    fi
}

complete -o filenames -F _genc genc
