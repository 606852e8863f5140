// Red-black tree operations; see rbtree.h. The rebalancing follows CLRS
// (Introduction to Algorithms, ch. 13) with null leaves and an explicit parent
// for the "x" of erase, since x may be a null leaf.
#include "rbtree.h"

namespace uvm {
namespace {

bool is_black(const rb_node* n) {
  return n == nullptr || n->color == RB_BLACK;
}

void update(const rb_augment* aug, rb_node* n) {
  if (aug != nullptr) aug->update(n);
}

// Put `v` where `u` hangs (root or a child slot of u's parent).
void replace_child(rb_root* root, rb_node* u, rb_node* v) {
  rb_node* p = u->parent;
  if (p == nullptr)
    root->node = v;
  else if (p->left == u)
    p->left = v;
  else
    p->right = v;
  if (v != nullptr) v->parent = p;
}

// After a rotation, `x` spans a subset of what it did before and `y` spans
// exactly what `x` did; update the lower node first.
void rotate_left(rb_root* root, rb_node* x, const rb_augment* aug) {
  rb_node* y = x->right;
  x->right = y->left;
  if (y->left != nullptr) y->left->parent = x;
  replace_child(root, x, y);
  y->left = x;
  x->parent = y;
  update(aug, x);
  update(aug, y);
}

void rotate_right(rb_root* root, rb_node* x, const rb_augment* aug) {
  rb_node* y = x->left;
  x->left = y->right;
  if (y->right != nullptr) y->right->parent = x;
  replace_child(root, x, y);
  y->right = x;
  x->parent = y;
  update(aug, x);
  update(aug, y);
}

void erase_fixup(rb_root* root, rb_node* x, rb_node* parent, const rb_augment* aug) {
  while (x != root->node && is_black(x)) {
    if (x == parent->left) {
      rb_node* w = parent->right;
      if (w->color == RB_RED) {
        w->color = RB_BLACK;
        parent->color = RB_RED;
        rotate_left(root, parent, aug);
        w = parent->right;
      }
      if (is_black(w->left) && is_black(w->right)) {
        w->color = RB_RED;
        x = parent;
        parent = x->parent;
        continue;
      }
      if (is_black(w->right)) {
        w->left->color = RB_BLACK;
        w->color = RB_RED;
        rotate_right(root, w, aug);
        w = parent->right;
      }
      w->color = parent->color;
      parent->color = RB_BLACK;
      w->right->color = RB_BLACK;
      rotate_left(root, parent, aug);
      x = root->node;
      break;
    }
    rb_node* w = parent->left;
    if (w->color == RB_RED) {
      w->color = RB_BLACK;
      parent->color = RB_RED;
      rotate_right(root, parent, aug);
      w = parent->left;
    }
    if (is_black(w->left) && is_black(w->right)) {
      w->color = RB_RED;
      x = parent;
      parent = x->parent;
      continue;
    }
    if (is_black(w->left)) {
      w->right->color = RB_BLACK;
      w->color = RB_RED;
      rotate_left(root, w, aug);
      w = parent->left;
    }
    w->color = parent->color;
    parent->color = RB_BLACK;
    w->left->color = RB_BLACK;
    rotate_right(root, parent, aug);
    x = root->node;
    break;
  }
  if (x != nullptr) x->color = RB_BLACK;
}

int validate(const rb_node* n, const rb_node* parent) {
  if (n == nullptr) return 1;
  if (n->parent != parent) return -1;
  if (n->color == RB_RED && (!is_black(n->left) || !is_black(n->right))) return -1;
  int l = validate(n->left, n);
  int r = validate(n->right, n);
  if (l < 0 || r < 0 || l != r) return -1;
  return l + (n->color == RB_BLACK ? 1 : 0);
}

}  // namespace

void rb_link_node(rb_node* node, rb_node* parent, rb_node** link) {
  node->parent = parent;
  node->left = node->right = nullptr;
  node->color = RB_RED;
  *link = node;
}

void rb_propagate(rb_node* node, const rb_augment* aug) {
  if (aug == nullptr) return;
  for (; node != nullptr; node = node->parent) aug->update(node);
}

void rb_insert_color(rb_node* node, rb_root* root, const rb_augment* aug) {
  rb_propagate(node, aug);
  rb_node* p;
  while ((p = node->parent) != nullptr && p->color == RB_RED) {
    rb_node* g = p->parent;  // exists: a red node is never the root
    if (p == g->left) {
      rb_node* u = g->right;
      if (!is_black(u)) {
        p->color = u->color = RB_BLACK;
        g->color = RB_RED;
        node = g;
        continue;
      }
      if (node == p->right) {
        rotate_left(root, p, aug);
        node = p;
        p = node->parent;
      }
      p->color = RB_BLACK;
      g->color = RB_RED;
      rotate_right(root, g, aug);
    } else {
      rb_node* u = g->left;
      if (!is_black(u)) {
        p->color = u->color = RB_BLACK;
        g->color = RB_RED;
        node = g;
        continue;
      }
      if (node == p->left) {
        rotate_right(root, p, aug);
        node = p;
        p = node->parent;
      }
      p->color = RB_BLACK;
      g->color = RB_RED;
      rotate_left(root, g, aug);
    }
  }
  root->node->color = RB_BLACK;
}

void rb_erase(rb_node* z, rb_root* root, const rb_augment* aug) {
  rb_node* x;
  rb_node* xparent;
  rb_color removed_color = z->color;
  if (z->left == nullptr || z->right == nullptr) {
    x = z->left != nullptr ? z->left : z->right;
    xparent = z->parent;
    replace_child(root, z, x);
  } else {
    // Two children: the successor y takes z's place and colour.
    rb_node* y = z->right;
    while (y->left != nullptr) y = y->left;
    removed_color = y->color;
    x = y->right;
    if (y->parent == z) {
      xparent = y;
    } else {
      xparent = y->parent;
      replace_child(root, y, x);
      y->right = z->right;
      y->right->parent = y;
    }
    replace_child(root, z, y);
    y->left = z->left;
    y->left->parent = y;
    y->color = z->color;
  }
  // Every subtree that lost z is on the path from xparent to the root.
  rb_propagate(xparent, aug);
  if (removed_color == RB_BLACK) erase_fixup(root, x, xparent, aug);
  z->parent = z->left = z->right = nullptr;
}

rb_node* rb_first(const rb_root* root) {
  rb_node* n = root->node;
  if (n == nullptr) return nullptr;
  while (n->left != nullptr) n = n->left;
  return n;
}

rb_node* rb_last(const rb_root* root) {
  rb_node* n = root->node;
  if (n == nullptr) return nullptr;
  while (n->right != nullptr) n = n->right;
  return n;
}

rb_node* rb_next(const rb_node* node) {
  if (node->right != nullptr) {
    rb_node* n = node->right;
    while (n->left != nullptr) n = n->left;
    return n;
  }
  rb_node* p = node->parent;
  while (p != nullptr && node == p->right) {
    node = p;
    p = p->parent;
  }
  return p;
}

rb_node* rb_prev(const rb_node* node) {
  if (node->left != nullptr) {
    rb_node* n = node->left;
    while (n->right != nullptr) n = n->right;
    return n;
  }
  rb_node* p = node->parent;
  while (p != nullptr && node == p->left) {
    node = p;
    p = p->parent;
  }
  return p;
}

int rb_validate(const rb_root* root) {
  if (root->node != nullptr && root->node->color != RB_BLACK) return -1;
  return validate(root->node, nullptr);
}

}  // namespace uvm
