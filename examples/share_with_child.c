/* Sharing a buffer with another process: a uvm_vmalloc_user allocation is
 * exported as a memfd descriptor, sent over a UNIX socket (SCM_RIGHTS) to a
 * child that maps it, reads the parent's message and writes a reply. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uvmalloc/uvmalloc.h>

static int send_fd(int sock, int fd, size_t length) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&length, sizeof length};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

static int recv_fd(int sock, size_t* length) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {length, sizeof *length};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  if (recvmsg(sock, &msg, 0) <= 0) return -1;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == NULL || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int main(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) { /* child: knows nothing but the descriptor it receives */
    close(sv[0]);
    size_t length;
    int fd = recv_fd(sv[1], &length);
    char* p = fd < 0 ? MAP_FAILED : mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) _exit(2);
    int ok = strcmp(p, "hello from the parent") == 0;
    strcpy(p + length / 2, "hello from the child");
    char done = 1;
    if (write(sv[1], &done, 1) != 1) _exit(3);
    _exit(ok ? 0 : 4);
  }
  close(sv[1]);
  size_t size = 1 << 20;
  char* buf = uvm_vmalloc_user(size);
  struct uvm_export e;
  if (buf == NULL || uvm_export(buf, &e) != UVM_OK) return 1;
  strcpy(buf, "hello from the parent");
  if (send_fd(sv[0], e.fd, e.length) != 0) return 1;
  close(e.fd);
  char done;
  int status;
  if (read(sv[0], &done, 1) != 1 || waitpid(pid, &status, 0) != pid || status != 0) return 1;
  printf("parent reads: \"%s\" (exported %zu bytes of a memfd of its own)\n", buf + size / 2,
         e.length);
  int ok = strcmp(buf + size / 2, "hello from the child") == 0;
  uvm_vfree(buf);
  return ok ? 0 : 1;
}
