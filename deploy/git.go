package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"github.com/factory-wager/edgeconf/cloudflare"
)

// maxGitDepth bounds the walk up from a folder to its repository.
const maxGitDepth = 64

// GitCommit returns the commit checked out in the git repository that holds
// dir (the first 12 hex digits), or "" when there is none. It reads the
// repository's files and runs no git.
func GitCommit(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for i := 0; i < maxGitDepth; i++ {
		if gitDir := gitDirOf(filepath.Join(abs, ".git")); gitDir != "" {
			return short(resolveHEAD(gitDir))
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return ""
		}
		abs = parent
	}
	return ""
}

// gitDirOf is the repository folder of a .git entry: the folder itself, or
// the one a worktree's .git file points at.
func gitDirOf(dotGit string) string {
	fi, err := os.Stat(dotGit)
	switch {
	case err != nil:
		return ""
	case fi.IsDir():
		return dotGit
	case fi.Size() > 4096:
		return ""
	}
	b, err := os.ReadFile(dotGit)
	if err != nil {
		return ""
	}
	p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(dotGit), p)
	}
	return p
}

func readSmall(path string) string {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() > 4096 {
		return ""
	}
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// resolveHEAD follows HEAD to a commit id: a loose ref, else packed-refs
// (of the worktree's common folder too).
func resolveHEAD(gitDir string) string {
	head := readSmall(filepath.Join(gitDir, "HEAD"))
	ref, ok := strings.CutPrefix(head, "ref: ")
	if !ok {
		return head // detached
	}
	dirs := []string{gitDir}
	if common := readSmall(filepath.Join(gitDir, "commondir")); common != "" {
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
		dirs = append(dirs, common)
	}
	for _, d := range dirs {
		if id := readSmall(filepath.Join(d, filepath.FromSlash(ref))); id != "" {
			return id
		}
	}
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, "packed-refs"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if id, name, ok := strings.Cut(sc.Text(), " "); ok && name == ref {
				f.Close()
				return id
			}
		}
		f.Close()
	}
	return ""
}

func short(id string) string {
	if len(id) < 12 || strings.Trim(id, "0123456789abcdef") != "" {
		return ""
	}
	return id[:12]
}

// VersionMessage is the message a deploy records on its version and
// deployments: message, with the commit of dir's repository when there is
// one ("commit abc123def456" alone when message is empty), cut to
// cloudflare.MaxVersionMessage characters.
func VersionMessage(message, dir string) string {
	if c := GitCommit(dir); c != "" {
		if message == "" {
			message = "commit " + c
		} else {
			message += " (commit " + c + ")"
		}
	}
	return truncate(message, cloudflare.MaxVersionMessage)
}
