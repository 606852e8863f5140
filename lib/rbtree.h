// Intrusive red-black tree with optional augmentation (the kernel's lib/rbtree.c
// plus rbtree_augmented.h, in the shape of a textbook CLRS tree with parent
// pointers). The tree never allocates: nodes live inside the caller's objects.
//
// Augmentation: a caller that keeps per-subtree data (vmap_area's
// subtree_max_size) passes an `rb_augment` whose `update` recomputes one node's
// value from the node and its two children. The tree calls it on every node
// whose subtree changes: both nodes of a rotation and the path to the root
// after a link or an unlink. A caller that changes a key's payload in place
// calls rb_propagate() from that node.
#pragma once

#include <cstddef>

namespace uvm {

enum rb_color : unsigned char { RB_RED = 0, RB_BLACK = 1 };

struct rb_node {
  rb_node* parent = nullptr;
  rb_node* left = nullptr;
  rb_node* right = nullptr;
  rb_color color = RB_RED;
};

struct rb_root {
  rb_node* node = nullptr;
};

struct rb_augment {
  // Recompute `n`'s augmented value from `n`, n->left and n->right.
  void (*update)(rb_node* n);
};

// Link `node` as the `*link` child of `parent` (found by the caller's own
// descent), then rebalance. `parent` is null and `link` is &root->node for the
// first node.
void rb_link_node(rb_node* node, rb_node* parent, rb_node** link);
void rb_insert_color(rb_node* node, rb_root* root, const rb_augment* aug = nullptr);
void rb_erase(rb_node* node, rb_root* root, const rb_augment* aug = nullptr);

// Recompute augmented values from `node` up to the root.
void rb_propagate(rb_node* node, const rb_augment* aug);

rb_node* rb_first(const rb_root* root);
rb_node* rb_last(const rb_root* root);
rb_node* rb_next(const rb_node* node);
rb_node* rb_prev(const rb_node* node);

// Debug check: red-black properties and parent links. Returns the black height,
// or -1 when a property is broken.
int rb_validate(const rb_root* root);

// container_of for an embedded rb_node. (A type cannot be parenthesised.)
// NOLINTBEGIN(bugprone-macro-parentheses)
#define rb_entry(ptr, type, member) \
  reinterpret_cast<type*>(reinterpret_cast<char*>(ptr) - offsetof(type, member))
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace uvm
